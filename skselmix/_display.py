"""Matplotlib displays in scikit-learn's Display style (optional extra ``skselmix[plots]``)."""

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ._validation import final_estimator
from .metrics import balanced_confusion_matrix


def _check_length(values, expected, name, what):
    if values is not None and len(values) != expected:
        raise ValueError(f"{name} has {len(values)} entries for {expected} {what}.")


def _summary(recalls):
    """``min 0.42, mean 0.71`` over the classes that have a recall (NaN: none to judge)."""
    judged = recalls[~np.isnan(recalls)]
    if judged.size == 0:
        return "no class judged"
    missing = recalls.size - judged.size
    note = f", {missing} not judged" if missing else ""
    return f"min {judged.min():.2f}, mean {judged.mean():.2f}{note}"


def _fitted_selmix(estimator):
    """The fitted SelMix step of ``estimator`` (itself, or a Pipeline's last step)."""
    model = final_estimator(estimator)
    check_is_fitted(model)
    if not hasattr(model, "history_"):
        raise TypeError(f"HistoryDisplay needs a fitted SelMixClassifier (or a Pipeline ending in one), got "
                        f"{type(model).__name__}.")
    return model


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - exercised only without matplotlib
        raise ImportError("Plotting needs matplotlib: pip install matplotlib (the extra 'skselmix[plots]' "
                          "also installs torch, which the displays do not need).") from exc
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

    #: Above this many classes, ``orientation="auto"`` draws one horizontal bar group per row.
    HORIZONTAL_ABOVE = 30

    def __init__(self, recalls, *, display_labels, names=None):
        self.recalls = np.atleast_2d(np.asarray(recalls, dtype=float))
        self.display_labels = np.asarray(display_labels)
        self.names = names
        if self.recalls.ndim != 2:
            raise ValueError(f"recalls must have shape (n_models, n_classes), got {self.recalls.shape}.")
        _check_length(self.display_labels, self.recalls.shape[1], "display_labels", "classes")
        _check_length(names, self.recalls.shape[0], "names", "models")

    @classmethod
    def from_predictions(cls, y_true, y_preds, *, names=None, labels=None, sort=True, ax=None, orientation="auto"):
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
        orientation : {"auto", "vertical", "horizontal"}, default="auto"
            See :meth:`plot`.

        Returns
        -------
        display : PerClassRecallDisplay
        """
        if len(y_preds) == 0:
            raise ValueError("y_preds is empty: give one model's predictions, or a list with one array per model.")
        y_preds = [y_preds] if np.ndim(y_preds[0]) == 0 else list(y_preds)
        _check_length(names, len(y_preds), "names", "models")
        labels = np.unique(y_true) if labels is None else np.asarray(labels)
        recalls = np.stack(
            [np.diag(balanced_confusion_matrix(y_true, p, labels=labels)) * labels.size for p in y_preds]
        )
        return cls(recalls, display_labels=labels, names=names).plot(ax=ax, sort=sort, orientation=orientation)

    @classmethod
    def from_estimator(cls, estimators, X, y, *, names=None, labels=None, sort=True, ax=None, orientation="auto"):
        """Plot per-class recalls of one or several fitted classifiers on ``(X, y)``.

        Parameters
        ----------
        estimators : classifier or list of classifiers
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        names : list of str, default=None
            Defaults to the estimators' class names.
        labels, sort, ax, orientation
            As in :meth:`from_predictions`.

        Returns
        -------
        display : PerClassRecallDisplay
        """
        estimators = estimators if isinstance(estimators, (list, tuple)) else [estimators]
        names = names if names is not None else [type(e).__name__ for e in estimators]
        _check_length(names, len(estimators), "names", "estimators")
        return cls.from_predictions(
            y, [e.predict(X) for e in estimators], names=names, labels=labels, sort=sort, ax=ax, orientation=orientation
        )

    def plot(self, ax=None, *, sort=True, orientation="auto"):
        """Draw the bars.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure sized for the classes when None.
        sort : bool, default=True
            Order classes by the first model's recall, worst first.
        orientation : {"auto", "vertical", "horizontal"}, default="auto"
            ``"horizontal"`` puts one class per row with its full name, which
            stays legible at 100 classes; ``"auto"`` uses it above
            :attr:`HORIZONTAL_ABOVE` classes.

        Returns
        -------
        self : PerClassRecallDisplay
        """
        plt = _pyplot()
        n_models, n_classes = self.recalls.shape
        if orientation not in ("auto", "vertical", "horizontal"):
            raise ValueError(f"orientation must be 'auto', 'vertical' or 'horizontal', got {orientation!r}.")
        horizontal = orientation == "horizontal" or (orientation == "auto" and n_classes > self.HORIZONTAL_ABOVE)
        names_shown = [str(v) for v in self.display_labels]
        if ax is None:
            if horizontal:
                longest = max(len(n) for n in names_shown)
                size = (4.5 + 0.07 * longest, max(3.5, 0.09 * n_classes * (n_models + 1) + 1.2))
            else:
                size = (max(5.0, 0.35 * n_classes + 2), 3.5)
            _, ax = plt.subplots(figsize=size)
        order = np.argsort(self.recalls[0], kind="stable") if sort else np.arange(n_classes)
        names = self.names or [f"model {m}" for m in range(n_models)]
        width = 0.8 / n_models
        position = np.arange(n_classes)
        self.bars_ = []
        for m in range(n_models):
            r = self.recalls[m]
            label = f"{names[m]} ({_summary(r)})"
            offset = position + (m - (n_models - 1) / 2) * width
            draw = ax.barh if horizontal else ax.bar
            self.bars_.append(draw(offset, r[order], width, label=label))
        ticks = [names_shown[i] for i in order]
        if horizontal:
            ax.set_yticks(position, ticks, fontsize=7 if n_classes > 40 else 9)
            ax.set_ylim(n_classes - 0.5, -0.5)  # worst class on top
            ax.set_xlim(0, 1.05)
            ax.set_xlabel("recall")
            ax.legend(fontsize=8, loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=min(n_models, 2), frameon=False)
            ax.grid(axis="x", alpha=0.3)
        else:
            ax.set_xticks(position, ticks, rotation=90 if n_classes > 12 else 0)
            # Headroom above recall 1 for the legend, so that it never covers a bar.
            legend_rows = -(-n_models // 2)
            ax.set_ylim(0, 1.08 + 0.1 * legend_rows)
            ax.set_yticks(np.linspace(0, 1, 6))
            ax.set_ylabel("recall")
            ax.legend(fontsize=8, loc="upper center", ncol=min(n_models, 2), frameon=False)
        self.ax_, self.figure_ = ax, ax.figure
        return self


class HistoryDisplay:
    """SelMix training history: what the feedback saw at every refresh, step by step.

    Panels: the validation objective (the selected step ``best_step_``
    marked), the recalls of the classes that were worst at the selected step,
    the largest gain and the entropy of the pair distribution ``P``; for
    objectives with Lagrange multipliers (min-type and constrained ones) also
    the multipliers and the smallest coverage.

    Parameters
    ----------
    history : list of dict
        ``SelMixClassifier.history_``.
    objective_name : str, default="objective"
        Name of the validation objective (panel title).
    best_step : int, default=None
        The selected step, marked on every panel; ``None`` marks nothing.
    display_labels : array-like of shape (n_classes,), default=None
        Class names for the legends (default: class indices).
    n_worst : int, default=5
        Number of worst classes drawn (and named) in the recall and
        multiplier panels.

    Attributes
    ----------
    axes_ : ndarray of matplotlib Axes, shape (2, 2) or (2, 3)
        Two rows of panels; three columns when the objective has multipliers.
    figure_ : matplotlib Figure
    worst_classes_ : ndarray of shape (n_worst,)
        Indices of the classes drawn in the recall panel, worst first.
    """

    def __init__(self, history, *, objective_name="objective", best_step=None, display_labels=None, n_worst=5):
        self.history = [h for h in history if not h.get("diverged")]
        if not self.history:
            raise ValueError("history holds no refresh record to plot (a fitted model's history_ has at least one).")
        _check_length(display_labels, len(self.history[0]["recalls"]), "display_labels", "classes")
        if isinstance(n_worst, bool) or not isinstance(n_worst, (int, np.integer)) or n_worst < 1:
            raise ValueError(f"n_worst must be a positive int, got {n_worst!r}.")
        self.objective_name = objective_name
        self.best_step = best_step
        self.display_labels = display_labels
        self.n_worst = n_worst

    @classmethod
    def from_estimator(cls, estimator, *, axes=None, n_worst=5):
        """Plot the history of a fitted :class:`~skselmix.SelMixClassifier`.

        Parameters
        ----------
        estimator : SelMixClassifier or Pipeline
            A fitted estimator, or a fitted ``Pipeline`` whose last step is one.
        axes : array of matplotlib Axes, default=None
            Four axes (six for objectives with multipliers); new ones when None.
        n_worst : int, default=5
            Number of worst classes drawn.

        Returns
        -------
        display : HistoryDisplay
        """
        model = _fitted_selmix(estimator)
        return cls(
            model.history_,
            objective_name=model.objective_.name,
            best_step=model.best_step_,
            display_labels=model.classes_,
            n_worst=n_worst,
        ).plot(axes=axes)

    @property
    def _has_multipliers(self):
        return bool(self.history) and self.history[0].get("multipliers") is not None

    def plot(self, axes=None):
        """Draw the panels.

        Parameters
        ----------
        axes : array of matplotlib Axes, default=None
            Four axes (six when the history holds multipliers); new ones when None.

        Returns
        -------
        self : HistoryDisplay
        """
        plt = _pyplot()
        n_cols = 3 if self._has_multipliers else 2
        if axes is None:
            _, axes = plt.subplots(2, n_cols, figsize=(4.4 * n_cols, 6.2))
        axes = np.asarray(axes)
        if axes.size != 2 * n_cols:
            raise ValueError(f"HistoryDisplay needs {2 * n_cols} axes for this history, got {axes.size}.")
        axes = axes.reshape(2, n_cols)
        h = self.history
        steps = np.array([r["step"] for r in h])
        recalls = np.stack([r["recalls"] for r in h])
        k = recalls.shape[1]
        labels = np.arange(k) if self.display_labels is None else np.asarray(self.display_labels)
        at = int(np.argmin(np.abs(steps - self.best_step))) if self.best_step is not None else len(h) - 1
        self.worst_classes_ = np.argsort(recalls[at], kind="stable")[: min(self.n_worst, k)]

        objective = axes[0, 0]
        objective.plot(steps, [r["objective"] for r in h], marker=".", color="C0")
        if self.best_step is not None:
            objective.plot(
                [steps[at]],
                [h[at]["objective"]],
                marker="*",
                markersize=14,
                color="C3",
                linestyle="none",
                label=f"selected: step {self.best_step}",
            )
            objective.legend(fontsize=8, loc="lower right")
        objective.set(title=f"validation {self.objective_name}", ylabel=self.objective_name)

        worst = axes[0, 1]
        for c in self.worst_classes_:
            worst.plot(steps, recalls[:, c], marker=".", label=str(labels[c]))
        worst.set(title=f"recall of the {len(self.worst_classes_)} worst classes", ylabel="validation recall")
        worst.legend(
            fontsize=8,
            title="worst at the selected step",
            title_fontsize=8,
            ncol=2 if len(self.worst_classes_) > 4 else 1,
        )

        axes[1, 0].plot(steps, [r["max_gain"] for r in h], marker=".", color="C0")
        axes[1, 0].set(title="largest gain", ylabel="max G (before normalisation)")
        axes[1, 1].plot(steps, [r["entropy"] for r in h], marker=".", color="C0")
        axes[1, 1].axhline(2 * np.log(k), color="grey", linestyle=":", label="uniform over K² pairs")
        axes[1, 1].set(title="entropy of P", ylabel="nats")
        axes[1, 1].legend(fontsize=8)
        if self._has_multipliers:
            multipliers = np.stack([r["multipliers"] for r in h]).reshape(len(h), -1)
            panel = axes[0, 2]
            top = np.argsort(-multipliers[at], kind="stable")[: min(self.n_worst, multipliers.shape[1])]
            panel.plot(steps, multipliers, color="lightgrey", linewidth=0.8)
            for j in top:
                name = str(labels[j]) if multipliers.shape[1] == k else str(j)
                panel.plot(steps, multipliers[:, j], label=name)
            panel.set(title="Lagrange multipliers (largest named)", ylabel="multiplier")
            panel.legend(fontsize=8, title="class", title_fontsize=8)
            coverage = np.stack([r["coverages"] for r in h]) * k
            axes[1, 2].plot(steps, coverage.min(axis=1), marker=".", color="C0")
            axes[1, 2].axhline(1.0, color="grey", linestyle=":", label="fair share (1/K)")
            axes[1, 2].set(title="smallest coverage x K", ylabel="coverage x K")
            axes[1, 2].legend(fontsize=8)
        for ax in axes.ravel():
            ax.set_xlabel("SGD step")
            if self.best_step is not None:
                ax.axvline(self.best_step, color="C3", linestyle="--", linewidth=0.8, alpha=0.6)
        axes[0, 0].figure.tight_layout()
        self.axes_, self.figure_ = axes, axes[0, 0].figure
        return self
