"""PNG plots of a run: training curves, confusion matrix, ROC."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # workstations and CI have no display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from edge.scoring import auc, roc_curve  # noqa: E402


def training_curves(history: dict, phase_starts: list[int], path: Path) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, key in zip(axes, ("loss", "accuracy"), strict=True):
        epochs = np.arange(1, len(history[key]) + 1)
        ax.plot(epochs, history[key], label=f"train {key}")
        ax.plot(epochs, history[f"val_{key}"], label=f"val {key}")
        for start in phase_starts[1:]:
            ax.axvline(start + 0.5, color="grey", linestyle="--", linewidth=1)
        ax.set_xlabel("epoch (dashed: fine-tuning starts)")
        ax.set_title(key)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def confusion(matrix, labels, path: Path, title: str) -> None:
    matrix = np.asarray(matrix)
    fig, ax = plt.subplots(figsize=(4.5, 4))
    ax.imshow(matrix, cmap="Blues")
    for (row, col), value in np.ndenumerate(matrix):
        color = "white" if value > matrix.max() / 2 else "black"
        ax.text(col, row, str(value), ha="center", va="center", color=color, fontsize=12)
    ax.set_xticks(range(len(labels)), labels, rotation=20)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def roc(y_positive, scores, positive_label: str, path: Path, threshold: float | None) -> None:
    fpr, tpr, thresholds = roc_curve(y_positive, scores)
    fig, ax = plt.subplots(figsize=(4.5, 4))
    ax.plot(fpr, tpr, label=f"AUC = {auc(fpr, tpr):.4f}")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    if threshold is not None:
        at = np.argmin(np.abs(np.where(np.isfinite(thresholds), thresholds, 9) - threshold))
        ax.plot(fpr[at], tpr[at], "o", color="red", label=f"threshold {threshold:.3f}")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel(f"true positive rate ({positive_label})")
    ax.set_title(f"ROC, positive class: {positive_label}")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
