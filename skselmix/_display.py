"""Matplotlib displays in scikit-learn's Display style (optional extra ``skselmix[plots]``)."""

import numpy as np

from .metrics import balanced_confusion_matrix


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - exercised only without matplotlib
        raise ImportError("Plotting needs matplotlib: pip install 'skselmix[plots]'.") from exc
    return plt


class PerClassRecallDisplay:
    """Per-class recall of one or several classifiers, as grouped bars.

    Create it with :meth:`from_estimator` or :meth:`from_predictions`.

    Parameters
    ----------
    recalls : ndarray of shape (n_models, n_classes)
        Recall of each class for each model.
    display_labels : array-like of shape (n_classes,)
        Class labels.
    names : list of str, default=None
        Model names (legend).

    Attributes
    ----------
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure
    bars_ : list of matplotlib BarContainer
        One per model.

    Examples
    --------
    >>> from skselmix import PerClassRecallDisplay
    >>> disp = PerClassRecallDisplay.from_predictions([0, 0, 1, 1], [[0, 1, 1, 1], [0, 0, 1, 0]],
    ...                                               names=["a", "b"])  # doctest: +SKIP
    """

    def __init__(self, recalls, *, display_labels, names=None):
        self.recalls = np.atleast_2d(np.asarray(recalls, dtype=float))
        self.display_labels = np.asarray(display_labels)
        self.names = names

    @classmethod
    def from_predictions(cls, y_true, y_preds, *, names=None, labels=None, sort=True, ax=None):
        """Plot per-class recalls from predictions of one or several models.

        Parameters
        ----------
        y_true : array-like of shape (n_samples,)
        y_preds : array-like of shape (n_samples,) or list of them
            Predictions of one model, or a list with one array per model.
        names : list of str, default=None
        labels : array-like, default=None
            Classes to show (default: the classes of ``y_true``).
        sort : bool, default=True
            Order classes by the first model's recall, worst first.
        ax : matplotlib Axes, default=None

        Returns
        -------
        display : PerClassRecallDisplay
        """
        y_preds = [y_preds] if np.ndim(y_preds[0]) == 0 else list(y_preds)
        labels = np.unique(y_true) if labels is None else np.asarray(labels)
        recalls = np.stack([np.diag(balanced_confusion_matrix(y_true, p, labels=labels)) * labels.size for p in y_preds])
        return cls(recalls, display_labels=labels, names=names).plot(ax=ax, sort=sort)

    @classmethod
    def from_estimator(cls, estimators, X, y, *, names=None, labels=None, sort=True, ax=None):
        """Plot per-class recalls of one or several fitted classifiers on ``(X, y)``.

        Parameters
        ----------
        estimators : classifier or list of classifiers
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        names : list of str, default=None
            Defaults to the estimators' class names.
        labels, sort, ax
            As in :meth:`from_predictions`.

        Returns
        -------
        display : PerClassRecallDisplay
        """
        estimators = estimators if isinstance(estimators, (list, tuple)) else [estimators]
        names = names if names is not None else [type(e).__name__ for e in estimators]
        return cls.from_predictions(y, [e.predict(X) for e in estimators], names=names, labels=labels, sort=sort, ax=ax)

    def plot(self, ax=None, *, sort=True):
        """Draw the bars.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
        sort : bool, default=True
            Order classes by the first model's recall, worst first.

        Returns
        -------
        self : PerClassRecallDisplay
        """
        plt = _pyplot()
        if ax is None:
            _, ax = plt.subplots(figsize=(max(5.0, 0.35 * self.recalls.shape[1] + 2), 3.5))
        n_models, n_classes = self.recalls.shape
        order = np.argsort(self.recalls[0], kind="stable") if sort else np.arange(n_classes)
        names = self.names or [f"model {m}" for m in range(n_models)]
        width = 0.8 / n_models
        x = np.arange(n_classes)
        self.bars_ = []
        for m in range(n_models):
            r = self.recalls[m]
            label = f"{names[m]} (min {r.min():.2f}, mean {r.mean():.2f})"
            self.bars_.append(ax.bar(x + (m - (n_models - 1) / 2) * width, r[order], width, label=label))
        ax.set_xticks(x, [str(v) for v in self.display_labels[order]], rotation=90 if n_classes > 12 else 0)
        ax.set_ylim(0, 1.05)
        ax.set_ylabel("recall")
        ax.legend(fontsize=8)
        self.ax_, self.figure_ = ax, ax.figure
        return self


class HistoryDisplay:
    """SelMix training history: validation objective, multipliers, max gain and entropy of P vs step.

    Parameters
    ----------
    history : list of dict
        ``SelMixClassifier.history_``.
    objective_name : str, default="objective"

    Attributes
    ----------
    axes_ : ndarray of matplotlib Axes, shape (2, 2)
    figure_ : matplotlib Figure
    """

    def __init__(self, history, *, objective_name="objective"):
        self.history = [h for h in history if not h.get("diverged")]
        self.objective_name = objective_name

    @classmethod
    def from_estimator(cls, estimator, *, axes=None):
        """Plot the history of a fitted :class:`~skselmix.SelMixClassifier`.

        Parameters
        ----------
        estimator : SelMixClassifier
        axes : array of 4 matplotlib Axes, default=None

        Returns
        -------
        display : HistoryDisplay
        """
        return cls(estimator.history_, objective_name=estimator.objective_.name).plot(axes=axes)

    def plot(self, axes=None):
        """Draw the four panels.

        Parameters
        ----------
        axes : array of 4 matplotlib Axes, default=None

        Returns
        -------
        self : HistoryDisplay
        """
        plt = _pyplot()
        if axes is None:
            _, axes = plt.subplots(2, 2, figsize=(9, 5.5))
        axes = np.asarray(axes).reshape(2, 2)
        steps = [h["step"] for h in self.history]
        axes[0, 0].plot(steps, [h["objective"] for h in self.history], marker=".")
        axes[0, 0].set_title(f"validation {self.objective_name}")
        multipliers = [h["multipliers"] for h in self.history]
        if multipliers and multipliers[0] is not None:
            axes[0, 1].plot(steps, np.stack(multipliers))
        axes[0, 1].set_title("multipliers")
        axes[1, 0].plot(steps, [h["max_gain"] for h in self.history], marker=".")
        axes[1, 0].set_title("max gain")
        axes[1, 1].plot(steps, [h["entropy"] for h in self.history], marker=".")
        axes[1, 1].set_title("entropy of P")
        for ax in axes[1]:
            ax.set_xlabel("SGD step")
        axes[0, 0].figure.tight_layout()
        self.axes_, self.figure_ = axes, axes[0, 0].figure
        return self
