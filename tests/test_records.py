"""Units of skselmix/_torch/records.py: the typed records the loop passes around."""


from skselmix._torch.records import InitHead


def test_init_head_is_one_type_for_coef_init_and_warm_start():
    import numpy as np

    given = InitHead(np.zeros((3, 4)), np.zeros(3), "coef_init")
    continued = InitHead(np.ones((3, 4)), np.ones(3), "warm_start", np.array(["a", "b", "c"]))
    assert given.classes is None and continued.classes.tolist() == ["a", "b", "c"]
    assert continued._replace(coef=np.zeros((3, 4))).name == "warm_start"
