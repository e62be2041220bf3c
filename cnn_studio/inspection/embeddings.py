"""Features as points: a chosen layer's outputs over a split of the data set, projected to a plane.

:func:`compute` runs the network once over the split (in chunks, ``progress`` and ``cancel`` between
them) through the compiled model's ``forward_capture``, keeps each sample's features at the chosen
node (flattened; a large feature map is averaged over its positions, one number per channel) and its
prediction, and projects the features to two dimensions:

* ``pca``: principal components (numpy: SVD of the centred features), always available;
* ``tsne``: t-SNE from scikit-learn (``pip install scikit-learn``), on the first 50 components
  (cancel takes effect once it returns: the library has no hook to stop it);
* ``umap``: UMAP from umap-learn (``pip install umap-learn``), on the first 50 components.

The libraries are optional (the ``embeddings`` extra): a method whose library is missing raises an
:class:`EmbeddingError` that says what to install. :func:`knn_accuracy` measures how well the classes
separate in the plane (leave-one-out k-nearest-neighbour accuracy), against :func:`chance_accuracy`.
Qt-free; torch is imported only when features are computed.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .model import SPLIT_TITLES, InspectError, InspectModel, _cancel_fn, _chunks

METHODS = {"pca": "PCA", "tsne": "t-SNE", "umap": "UMAP"}
MAX_DIM = 8192  # features per sample above which a feature map is averaged over its positions
PRE_DIM = 50  # components t-SNE and UMAP start from (their usual first step)
MAX_SAMPLES = 5000  # samples of a split used at most (t-SNE is quadratic)


class EmbeddingError(InspectError):
    """An embedding cannot be computed; str() is for the user."""


class EmbeddingCancelled(EmbeddingError):
    def __init__(self, message: str = "the embedding was cancelled"):
        super().__init__(message)


@dataclass
class Embedding:
    split: str
    node: str
    method: str
    coords: np.ndarray  # (N, 2) float32
    indices: np.ndarray  # (N,) sample numbers in the split
    labels: np.ndarray  # (N,) true classes
    preds: np.ndarray  # (N,) predicted classes
    dim: int  # features per sample that were projected
    explained: list[float] = field(default_factory=list)  # PCA: share of the variance of each axis
    note: str = ""  # e.g. "averaged over positions"

    @property
    def correct(self) -> np.ndarray:
        return self.labels == self.preds


def default_node(imodel: InspectModel) -> str | None:
    """The features the classifier sees: the input of the last layer with weights (its source node),
    else the last layer before the output."""
    nodes = imodel.layer_nodes()
    if not nodes:
        return None
    out = imodel.model.output_source_id
    e = imodel.graph.edge_into(out, 0) if out in imodel.graph.nodes else None
    if e is not None and e.src in nodes:
        return e.src
    cands = [n for n in nodes if n != out]
    return cands[-1] if cands else nodes[-1]


def node_choices(imodel: InspectModel) -> list[str]:
    """Nodes whose outputs can be embedded (every layer output but the input), in forward order."""
    return list(imodel.layer_nodes())


def _flat(feat, dim_cap: int):
    """(N, ...) -> (N, D): flattened; a feature map above ``dim_cap`` values is averaged over positions."""
    if feat.dim() > 2 and feat[0].numel() > dim_cap:
        return feat.float().mean(dim=tuple(range(2, feat.dim()))), True
    return feat.reshape(len(feat), -1).float(), False


def features(imodel: InspectModel, node: str, split: str, progress: Callable | None = None, cancel=None,
             max_samples: int = MAX_SAMPLES, batch_size: int = 256) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """(features (N, D) float32, predicted classes (N,), sample numbers (N,), averaged?) of ``node``'s
    outputs over the first ``max_samples`` samples of ``split``."""
    import torch

    if not imodel.has_node(node):
        raise EmbeddingError(f"the network has no layer '{node}'; pick one of: {', '.join(node_choices(imodel))}")
    s = imodel.split(split)
    n = min(len(s.y), max_samples)
    is_cancelled = _cancel_fn(cancel)
    feats, preds = [], []
    done, averaged = 0, False
    title = SPLIT_TITLES.get(split, split)
    model = imodel.model
    model.eval()
    for xb in _chunks(s, batch_size):
        if is_cancelled():
            raise EmbeddingCancelled()
        xb = xb[: n - done]
        if not len(xb):
            break
        with torch.inference_mode():
            out, cap = model.forward_capture(imodel.normalize(xb), [node])
        f, avg = _flat(cap[node], MAX_DIM)
        averaged |= avg
        feats.append(f.cpu().numpy().astype(np.float32))
        preds.append(out.argmax(dim=1).cpu().numpy().astype(np.int64))
        done += len(xb)
        if progress is not None:
            progress(done, n, f"computing the features of '{node}' on the {title} split")
        if done >= n:
            break
    if not feats:
        raise EmbeddingError(f"the {title} split has no samples")
    return np.concatenate(feats), np.concatenate(preds), np.arange(done), averaged


def pca(x: np.ndarray, k: int = 2) -> tuple[np.ndarray, list[float]]:
    """The first ``k`` principal components of ``x`` (N, D): (coords (N, k), share of the variance of
    each). Signs are fixed (the largest loading of each axis positive) so the picture is stable."""
    x = np.asarray(x, dtype=np.float64)
    xc = x - x.mean(axis=0, keepdims=True)
    if len(x) < 2:
        return np.zeros((len(x), k), np.float32), [0.0] * k
    u, sv, vt = np.linalg.svd(xc, full_matrices=False)
    k_have = min(k, len(sv))
    coords = u[:, :k_have] * sv[:k_have]
    for j in range(k_have):
        if vt[j, np.argmax(np.abs(vt[j]))] < 0:
            coords[:, j] = -coords[:, j]
    total = float((sv ** 2).sum())
    shares = [float(sv[j] ** 2 / total) if total > 0 else 0.0 for j in range(k_have)]
    if k_have < k:  # fewer samples or features than axes: pad with zeros
        coords = np.hstack([coords, np.zeros((len(x), k - k_have))])
        shares += [0.0] * (k - k_have)
    return coords.astype(np.float32), shares


def _library(method: str):
    if method == "tsne":
        try:
            from sklearn.manifold import TSNE
        except ImportError:
            raise EmbeddingError("t-SNE needs scikit-learn, which is not installed: pip install scikit-learn "
                                 "(or pip install 'cnn-studio[embeddings]'); PCA works without it") from None
        return TSNE
    try:
        import umap
    except ImportError:
        raise EmbeddingError("UMAP needs umap-learn, which is not installed: pip install umap-learn "
                             "(or pip install 'cnn-studio[embeddings]'); PCA works without it") from None
    return umap.UMAP


def available(method: str) -> str | None:
    """None when ``method`` can run here, else why not (what to install)."""
    if method == "pca":
        return None
    try:
        _library(method)
    except EmbeddingError as e:
        return str(e)
    return None


def project(x: np.ndarray, method: str = "pca", seed: int = 0) -> tuple[np.ndarray, list[float]]:
    """(N, D) features -> ((N, 2) coords, explained variance shares (PCA only))."""
    if method not in METHODS:
        raise EmbeddingError(f"unknown method '{method}'; use one of: {', '.join(METHODS)}")
    if method == "pca":
        return pca(x, 2)
    cls = _library(method)
    n = len(x)
    if n < 5:
        raise EmbeddingError(f"{METHODS[method]} needs at least 5 samples; this split has {n}")
    pre = pca(x, min(PRE_DIM, x.shape[1], n))[0] if x.shape[1] > PRE_DIM else np.asarray(x, np.float32)
    if method == "tsne":
        # exact gradients for small sets (Barnes-Hut's threads cost more than they save below ~500
        # points: 1.8 s against 8 s for 200 points on a busy 2-core machine); 500 iterations
        kw = dict(n_components=2, perplexity=float(min(30.0, (n - 1) / 3)), init="pca", random_state=seed,
                  method="exact" if n <= 500 else "barnes_hut")
        try:
            model = cls(max_iter=500, **kw)
        except TypeError:  # scikit-learn before 1.5 names it n_iter
            model = cls(n_iter=500, **kw)
    else:
        model = cls(n_components=2, n_neighbors=min(15, n - 1), random_state=seed)
    return np.asarray(model.fit_transform(pre), dtype=np.float32), []


def compute(imodel: InspectModel, node: str | None = None, split: str | None = None, method: str = "pca",
            progress: Callable | None = None, cancel=None, max_samples: int = MAX_SAMPLES) -> Embedding:
    """The embedding of ``node``'s features (default: :func:`default_node`) over ``split`` (default: the
    validation split, else another)."""
    if method not in METHODS:
        raise EmbeddingError(f"unknown method '{method}'; use one of: {', '.join(METHODS)}")
    why = available(method)
    if why:
        raise EmbeddingError(why)
    node = node or default_node(imodel)
    split = split or imodel.default_split()
    if node is None or split is None:
        raise EmbeddingError("nothing to embed: the network has no layers or the run has no data")
    x, preds, idx, averaged = features(imodel, node, split, progress, cancel, max_samples)
    if _cancel_fn(cancel)():
        raise EmbeddingCancelled()
    if progress is not None:
        progress(len(x), len(x), f"projecting {len(x)} points with {METHODS[method]}")
    coords, explained = project(x, method)
    if _cancel_fn(cancel)():
        raise EmbeddingCancelled()
    labels = imodel.labels(split)[idx]
    note = "averaged over positions (one value per channel)" if averaged else ""
    return Embedding(split, node, method, coords, idx, labels, preds, int(x.shape[1]), explained, note)


# ---- how well the classes separate ------------------------------------------------------------------
def knn_accuracy(coords: np.ndarray, labels: np.ndarray, k: int = 5) -> float:
    """Leave-one-out accuracy of a k-nearest-neighbour vote in ``coords`` (ties: the nearest's class)."""
    c = np.asarray(coords, dtype=np.float64)
    y = np.asarray(labels)
    n = len(y)
    if n < 2:
        return 0.0
    k = max(1, min(k, n - 1))
    d = ((c[:, None, :] - c[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    nn = np.argsort(d, axis=1, kind="stable")[:, :k]
    votes = y[nn]
    right = 0
    for i in range(n):
        vals, counts = np.unique(votes[i], return_counts=True)
        best = vals[counts == counts.max()]
        pick = votes[i][0] if votes[i][0] in best else best[0]
        right += int(pick == y[i])
    return right / n


def separation(coords: np.ndarray, labels: np.ndarray) -> float:
    """How far apart the classes are against how spread each is: the between-class scatter over the
    within-class scatter (the Calinski-Harabasz index, (N - C) / (C - 1) x trace(B) / trace(W)).
    Around 1 for labels that have nothing to do with the points; larger is better separated."""
    c = np.asarray(coords, dtype=np.float64)
    y = np.asarray(labels)
    classes = np.unique(y)
    n, k = len(y), len(classes)
    if k < 2 or n <= k:
        return 0.0
    mean = c.mean(axis=0)
    between = within = 0.0
    for cls in classes:
        pts = c[y == cls]
        m = pts.mean(axis=0)
        between += len(pts) * float(((m - mean) ** 2).sum())
        within += float(((pts - m) ** 2).sum())
    return (between / (k - 1)) / (within / (n - k)) if within > 0 else float("inf")


def chance_accuracy(labels: np.ndarray) -> float:
    """The accuracy of always guessing the most common class (what a plane with no structure gives)."""
    y = np.asarray(labels)
    if not len(y):
        return 0.0
    return float(np.unique(y, return_counts=True)[1].max() / len(y))
