"""What a fit trains, chosen once: a linear head, or small ReLU networks under one.

:func:`architecture_of` turns the estimator's ``hidden_layer_sizes`` into an architecture
object, the one place the package decides which kind of model a fit has. The object
carries everything that differs between the kinds, so that no other module asks:

* ``learning_rate`` and :meth:`~LinearArchitecture.weight_decay`: its ``"auto"`` values;
* :meth:`~LinearArchitecture.check_combination`: what it cannot be combined with;
* :meth:`~LinearArchitecture.pass_work`: the multiply-adds of a pass over the rows, which
  set the fit's thread count;
* ``needs_seed``: whether its warm start draws a seed (a network's initialisation);
  ``preconditioned``: whether its solver takes the rows' L-BFGS preconditioner;
* ``on_cluster``: whether its passes over the rows can run where Dask chunks live;
* :meth:`~LinearArchitecture.fit`: its warm-start stack
  (:class:`~skselmix._torch.heads.LinearStack` or
  :class:`~skselmix._torch.network.NetworkStack`) as a
  :class:`~skselmix._torch.heads.FittedStart`, and :meth:`~LinearArchitecture.stack_of`,
  the same stack from a ``memory=`` cache entry's tensors.

Adding an architecture is a stack class behind the interface of ``heads.py`` and one class
here (docs/contributing.rst).
"""

import math
from dataclasses import dataclass

from .heads import FittedStart, LinearStack
from .network import Adapter, NetworkStack, fit_networks
from .warm_start import fit_linear_heads

# weight_decay="auto" is AUTO_WEIGHT_DECAY / n_train on unit-RMS-norm features. A penalty
# that shrinks like 1/n is what a linear probe needs; the constant was chosen on the
# tuning seeds of the quality benchmark (benchmarks/quality_notes.md): 5e-4 (the
# paper's SGD weight decay, used as the probe's penalty) under-fitted both real datasets.
AUTO_WEIGHT_DECAY = 0.1
# learning_rate="auto": the linear head's rate of every release before 0.7, and a smaller one for
# networks, whose penultimate activations are far longer than the unit-RMS rows a linear head reads
# (0.01 lost 0.10 of test min recall to 0.003 on the tuning splits: benchmarks/perf_notes.md).
AUTO_LEARNING_RATE = 0.01
AUTO_NETWORK_LEARNING_RATE = 0.003
# weight_decay="auto" for networks: chosen on tuning splits of benchmarks/tabular.py. A
# penalty growing with the input's width (sqrt(D) / n_train) made the warm start better on
# Fashion-MNIST-LT embeddings but SelMix's steps from it unsafe on long-tailed digits
# (benchmarks/perf_notes.md, "Adapter warm start").
AUTO_NETWORK_WEIGHT_DECAY = 1.0


def architecture_of(hidden_layer_sizes):
    """The architecture of a fit with ``hidden_layer_sizes`` (checked by the estimator's
    parameter constraints): :data:`LINEAR` for ``()``, else a :class:`NetworkArchitecture`."""
    sizes = tuple(int(size) for size in hidden_layer_sizes)
    return NetworkArchitecture(sizes) if sizes else LINEAR


class Architecture:
    """What every architecture answers (see the module's docstring); its subclasses set the
    class attributes ``sizes`` (the hidden layers' widths), ``needs_seed``, ``on_cluster``,
    ``learning_rate`` and the ``"auto"`` weight decay's constant."""

    @property
    def parameter(self):
        """How the estimator's parameter reads for this architecture, for messages."""
        return f"hidden_layer_sizes={self.sizes!r}"

    def weight_decay(self, weight_decay, n_train):
        """The L2 strength a fit uses: ``weight_decay`` itself, or for ``"auto"`` the
        architecture's constant over ``n_train`` (the training rows, or their total
        ``sample_weight``, at least one)."""
        if weight_decay != "auto":
            return float(weight_decay)
        return self._auto_weight_decay / max(float(n_train), 1.0)

    def pass_work(self, n_rows, n_features, n_classes):
        """Multiply-adds of one pass over ``n_rows`` rows: every layer's product."""
        widths = (n_features, *self.sizes, n_classes)
        return n_rows * sum(a * b for a, b in zip(widths, widths[1:]))


@dataclass(frozen=True)
class LinearArchitecture(Architecture):
    """A linear head on the scaled features, its warm start fitted by L-BFGS."""

    sizes = ()
    needs_seed = False
    on_cluster = True
    preconditioned = True  # its L-BFGS solver takes the rows' preconditioner (HeadFitter computes it once)
    learning_rate = AUTO_LEARNING_RATE
    _auto_weight_decay = AUTO_WEIGHT_DECAY

    def check_combination(self, *, init_head, warm_start, semi_supervised):
        """A ``ValueError`` for what this architecture cannot be combined with (nothing)."""

    def fit(self, X, y, n_classes, *, seed=None, preconditioner="auto", progress=None, **options):
        """The warm-start :class:`~skselmix._torch.heads.FittedStart` on rows ``X``, labels ``y``:
        :func:`~skselmix._torch.warm_start.fit_linear_heads` with ``options``; ``seed`` is
        not read (the solver draws nothing)."""
        heads = fit_linear_heads(X, y, n_classes, preconditioner=preconditioner, progress=progress, **options)
        return FittedStart(LinearStack(heads.coef, heads.intercept), heads.n_iter, heads.at_cap)

    def tensor_shapes(self, n_heads, n_classes, n_features):
        """Shapes of the stack's tensors (``stack.tensors()`` order) for ``n_heads`` heads."""
        return [(n_heads, n_classes, n_features), (n_heads, n_classes)]

    def stack_of(self, tensors, n_features):
        """The stack of ``tensors`` (shaped as :meth:`tensor_shapes` says)."""
        return LinearStack(tensors[0], tensors[1])


@dataclass(frozen=True)
class NetworkArchitecture(Architecture):
    """``H`` small ReLU networks with hidden layers of ``sizes`` under a linear head, their
    warm start fitted by Adam from a seeded initialisation (:mod:`~skselmix._torch.network`)."""

    sizes: tuple
    needs_seed = True
    preconditioned = False
    on_cluster = False  # Dask features serve linear heads only: networks stream through the client
    learning_rate = AUTO_NETWORK_LEARNING_RATE
    _auto_weight_decay = AUTO_NETWORK_WEIGHT_DECAY

    def check_combination(self, *, init_head, warm_start, semi_supervised):
        """A ``ValueError`` for what networks cannot be combined with: a user's start head,
        ``warm_start=True`` and semi-supervised mode (each works with the linear head only)."""
        for given, what in ((init_head, "coef_init"), (warm_start, "warm_start=True"),
                            (semi_supervised, "unlabeled_label (semi-supervised mode)")):
            if given:
                raise ValueError(f"{what} works with the linear head only; set hidden_layer_sizes=() or drop {what}.")

    def fit(self, X, y, n_classes, *, seed=None, preconditioner="auto", progress=None, **options):
        """The networks' :class:`~skselmix._torch.heads.FittedStart`
        (:func:`~skselmix._torch.network.fit_networks` seeded by ``seed``); ``preconditioner``
        and ``progress`` belong to the linear solver and are not read."""
        return fit_networks(X, y, n_classes, self.sizes, seed=seed, name=self.parameter, **options)

    def tensor_shapes(self, n_heads, n_classes, n_features):
        """Shapes of the stack's tensors: the heads, then every hidden layer's weights and biases."""
        widths = (n_features, *self.sizes)
        return [(n_heads, n_classes, self.sizes[-1]), (n_heads, n_classes),
                *[(n_heads, out, inp) for inp, out in zip(widths, widths[1:])],
                *[(n_heads, out) for out in self.sizes]]

    def stack_of(self, tensors, n_features):
        """The networks of ``tensors`` (shaped as :meth:`tensor_shapes` says)."""
        n = len(self.sizes)
        # The rows' scale into the first layer is the initialisation's (network.init_adapter),
        # derived here rather than read from a cache entry.
        adapter = Adapter(tuple(tensors[2 : 2 + n]), tuple(tensors[2 + n :]), math.sqrt(n_features))
        return NetworkStack(tensors[0], tensors[1], adapter)


#: The linear head: what ``hidden_layer_sizes=()`` (the default) fits.
LINEAR = LinearArchitecture()

