"""Small ReLU networks under the head, stacked ``H`` deep like the heads: every part of them.

With hidden layers the model is ``logits = W relu(... relu(A_1 x + c_1) ...) + b``:
the hidden layers are the *adapter*, ``(W, b)`` the linear head SelMix's gains are
written for. Everything is stacked along a leading head axis (one network per fold
under cross-fitting), so ``H`` networks train and predict in batched products, as
the linear heads do.

* :func:`fit_networks` is the warm start: every layer trained together with the
  logit-adjusted (or balanced, or plain) cross-entropy, by minibatch Adam.
* :func:`network_sgd_steps` is SelMix's SGD on mixups *at the penultimate layer*
  (anchors and partners pass through the adapter, their activations are mixed), which
  updates the adapter as well as the head.
* :class:`NetworkStack` is their stack behind the head interface of
  :mod:`~skselmix._torch.heads` (which this module imports, never the other way).

Rows enter the adapter multiplied by ``sqrt(D)``: the fit's rows have unit RMS norm,
so each coordinate then has unit RMS on average, the scale He initialisation and Adam's
step size are written for (a network on the unscaled rows learnt its first layer
``sqrt(D)`` times slower).

Prediction is numpy alone (``skselmix/_predict.py``): a fitted model never imports torch.
"""

import math
from typing import NamedTuple

import torch

from .._gain import gain_from_sensitivity
from .._predict import NetworkModel
from .device import device_memory
from .draws import Stepped
from .heads import FittedStart, float64_numpy, head_logits
from .warm_start import head_loss_weights

# The warm start's Adam: epochs over the rows (at least ADAPTER_MIN_STEPS steps on small
# sets), minibatch size and peak step size under a cosine decay. Chosen on tuning splits
# of benchmarks/tabular.py (seeds 100 and up, never the reported ones): see
# benchmarks/perf_notes.md, "Adapter warm start".
ADAPTER_EPOCHS = 30
ADAPTER_MIN_STEPS = 300
ADAPTER_BATCH = 256
ADAPTER_LEARNING_RATE = 1e-2
_ADAM_BETAS = (0.9, 0.999)
_ADAM_EPS = 1e-8


class Adapter(NamedTuple):
    """The hidden layers of ``H`` networks: ``weights[l]`` (H, out, in), ``biases[l]`` (H, out);
    rows are multiplied by ``input_scale`` before the first layer."""

    weights: tuple
    biases: tuple
    input_scale: float

    @property
    def width(self):
        """Width of the last hidden layer: the features the head sees."""
        return self.weights[-1].shape[1]

    def tensors(self):
        return (*self.weights, *self.biases)

    def replace(self, tensors):
        """The same architecture with ``tensors`` (in :meth:`tensors` order)."""
        n = len(self.weights)
        return Adapter(tuple(tensors[:n]), tuple(tensors[n:]), self.input_scale)

    def forward(self, x):
        """Penultimate activations of every network: ``x`` (n, D) shared by all of them,
        or (H, n, D) one set of rows each; returns (H, n, width)."""
        h = x * self.input_scale
        for weight, bias in zip(self.weights, self.biases):
            h = torch.relu(torch.matmul(h, weight.transpose(1, 2)) + bias.unsqueeze(1))
        return h

    def forward_head(self, x, head):
        """Penultimate activations (n, width) of network ``head`` on rows ``x`` (n, D)."""
        h = x * self.input_scale
        for weight, bias in zip(self.weights, self.biases):
            h = torch.relu(torch.addmm(bias[head], h, weight[head].T))
        return h


def init_adapter(n_heads, n_features, sizes, generator, dtype, device):
    """He-initialised hidden layers (zero biases) for ``n_heads`` networks, drawn on the CPU
    from ``generator`` so that a seed gives the same network on every device.

    The first layer's fan-in counts ``n_features`` unit-RMS coordinates: rows enter
    multiplied by ``input_scale = sqrt(n_features)`` (see the module's docstring)."""
    weights, biases, fan_in = [], [], n_features
    for width in sizes:
        weight = torch.randn(n_heads, width, fan_in, generator=generator, dtype=torch.float32) * math.sqrt(2.0 / fan_in)
        weights.append(weight.to(device=device, dtype=dtype))
        biases.append(torch.zeros(n_heads, width, dtype=dtype, device=device))
        fan_in = width
    return Adapter(tuple(weights), tuple(biases), math.sqrt(n_features))


class NetworkStack(NamedTuple):
    """``H`` networks: hidden layers ``adapter`` and heads ``coef`` (H, K, width), ``intercept``
    (H, K) on their penultimate activations."""

    coef: torch.Tensor
    intercept: torch.Tensor
    adapter: object

    def tensors(self):
        return (self.coef, self.intercept) + self.adapter.tensors()

    def with_tensors(self, tensors):
        return NetworkStack(tensors[0], tensors[1], self.adapter.replace(tensors[2:]))

    def is_weight_matrix(self, index):
        return index == 0 or 2 <= index < 2 + len(self.adapter.weights)

    def features(self, x, head=0):
        return self.adapter.forward_head(x, head)

    def logits(self, x, head=0):
        return head_logits(self, x, head)

    @property
    def architecture(self):
        return tuple(tuple(w.shape) for w in self.adapter.weights)

    @property
    def widest(self):
        return max(w.shape[1] for w in self.adapter.weights)

    @property
    def weight_elements(self):
        return self.coef.numel() + sum(w.numel() for w in self.adapter.weights)

    def gain(self, feedback, prototypes, sensitivity, lambda_mean):
        """The fold networks share no feature space, so a mean head means nothing: each
        network's gain is taken with its own prototypes, re-measured from its penultimate
        activations (the adapter moves), and the gains are averaged."""
        prototypes = torch.stack([feedback.class_means_under(lambda x, h=h: self.features(x, h))
                                  for h in range(self.coef.shape[0])])
        return torch.stack([
            gain_from_sensitivity(prototypes[h], self.coef[h], self.intercept[h], sensitivity, lambda_mean)
            for h in range(self.coef.shape[0])
        ]).mean(dim=0)

    def all_rows_head(self, feedback, refit):
        """None: the fold networks share no feature space, so they are the model themselves
        (their logits averaged), the model their out-of-fold scores judge."""
        return None

    def model(self):
        """The selected networks are the model (their logits averaged): nothing to refit or merge."""
        return self.coef, self.intercept

    def fitted(self, coef, intercept):
        """The numpy networks, ``input_scale`` folded into the first layer (so they act on the
        scaled rows themselves)."""
        weights = [float64_numpy(w) for w in self.adapter.weights]
        weights[0] = weights[0] * self.adapter.input_scale
        biases = [float64_numpy(b) for b in self.adapter.biases]
        return NetworkModel(weights, biases, float64_numpy(coef), float64_numpy(intercept))

    @staticmethod
    def sgd_steps(requests):
        return network_sgd_steps(requests)


def network_warm_start_steps(n_rows):
    """Adam steps of the warm start on ``n_rows`` rows."""
    return max(ADAPTER_EPOCHS * math.ceil(n_rows / ADAPTER_BATCH), ADAPTER_MIN_STEPS)


# Copies of every parameter the Adam warm start holds (the weights, their gradient, two moments)
# and a margin for the SGD steps' clones and the activations of a batch.
_PARAMETER_COPIES = 6
# Each layer's pre- and post-activation and its gradient.
_ACTIVATION_COPIES = 4


def check_network_size(n_heads, n_features, sizes, n_classes, itemsize, device, batch=None, name=None):
    """A ``ValueError`` naming the layer ``sizes`` (as ``name`` when given: the estimator's
    parameter) when the networks' parameters (with the
    copies the fit keeps) and a minibatch's activations (kept for the backward pass) would
    not fit in the device's memory: asked of the allocator, a width of 10**7 made requests
    of 1.2 GB to 120 TB, or an int overflow deep in C++."""
    widths = (n_features, *sizes, n_classes)
    parameters = n_heads * sum((a + 1) * b for a, b in zip(widths, widths[1:]))
    activations = n_heads * (ADAPTER_BATCH if batch is None else batch) * sum(widths[1:])
    needed = (parameters * _PARAMETER_COPIES + activations * _ACTIVATION_COPIES) * itemsize
    available = device_memory(device)
    if needed > available:
        raise ValueError(
            f"{name or f'hidden layer sizes {tuple(sizes)!r}'} gives {n_heads} network(s) of "
            f"{parameters // n_heads:,} parameters: about {needed / 2**30:.1f} GiB to fit, more than the "
            f"{available / 2**30:.1f} GiB of memory this {device.type} device has. Use narrower layers."
        )


def fit_networks(X, y, n_classes, sizes, *, kind, l2, seed, fold=None, n_folds=1, class_weight=None,
                 sample_weight=None, name=None):
    """Fit ``H`` networks (adapter and head) on the (logit-adjusted) cross-entropy by Adam: a
    :class:`~skselmix._torch.heads.FittedStart` of a :class:`NetworkStack` and its Adam steps.

    One network on every row, or with ``fold`` one per fold, network ``h`` trained on
    the rows outside fold ``h`` (its loss weighs the rows of fold ``h`` by zero). The
    networks share each minibatch's rows but no parameter (Adam is coordinate-wise), so
    each trains on the minibatches' rows outside its fold, about ``(F - 1) / F`` of
    each batch, and never on a row of its fold. ``kind``, ``l2``,
    ``class_weight`` and ``sample_weight`` mean what they mean for
    :func:`~skselmix._torch.warm_start.fit_linear_heads` (the penalty covers every weight
    matrix, not the biases). ``seed`` fixes the initialisation and the minibatches; ``name``
    is how a too-large network's error names ``sizes``.
    """
    device, dtype = X.device, X.dtype
    n, d = X.shape
    k = n_classes
    n_heads = 1 if fold is None else n_folds
    check_network_size(n_heads, d, sizes, k, X.element_size(), device, batch=min(ADAPTER_BATCH, n), name=name)
    weights, offset = head_loss_weights(y, k, n_heads, kind, fold, class_weight, sample_weight)
    # Each network's weights averaged to one over all rows: a minibatch's weighted mean loss
    # is then an unbiased estimate of the network's loss.
    weights = (weights / weights.mean(dim=0)).to(dtype)
    generator = torch.Generator().manual_seed(int(seed))
    adapter = init_adapter(n_heads, d, sizes, generator, dtype, device)
    stack = NetworkStack(torch.zeros(n_heads, k, adapter.width, dtype=dtype, device=device),
                         torch.zeros(n_heads, k, dtype=dtype, device=device), adapter)
    params = list(stack.tensors())
    state = [(torch.zeros_like(p), torch.zeros_like(p)) for p in params]
    offset = None if offset is None else offset.to(dtype).unsqueeze(1)  # (H, 1, K)
    batch = min(ADAPTER_BATCH, n)
    n_steps = network_warm_start_steps(n)
    per_epoch = math.ceil(n / batch)
    beta1, beta2 = _ADAM_BETAS
    step = 0
    while step < n_steps:
        order = torch.randperm(n, generator=generator).to(device)
        for start in range(0, per_epoch * batch, batch):
            if step == n_steps:
                break
            rows = order[start : start + batch]
            for p in params:
                p.requires_grad_(True)
            net = stack.with_tensors(params)
            logits = torch.baddbmm(net.intercept.unsqueeze(1), net.adapter.forward(X.index_select(0, rows)),
                                   net.coef.transpose(1, 2))  # (H, b, K)
            if offset is not None:
                logits = logits + offset
            log_proba = torch.log_softmax(logits, dim=2)
            picked = log_proba.gather(2, y.index_select(0, rows).view(1, -1, 1).expand(n_heads, -1, 1)).squeeze(2)
            loss = -(picked * weights.index_select(0, rows).T).sum() / rows.shape[0]
            grads = torch.autograd.grad(loss, params)
            lr = 0.5 * ADAPTER_LEARNING_RATE * (1.0 + math.cos(math.pi * step / n_steps))
            step += 1
            with torch.no_grad():
                for index, (p, g, (m, v)) in enumerate(zip(params, grads, state)):
                    p.requires_grad_(False)
                    if l2 and stack.is_weight_matrix(index):
                        g = g + l2 * p
                    m.mul_(beta1).add_(g, alpha=1.0 - beta1)
                    v.mul_(beta2).addcmul_(g, g, value=1.0 - beta2)
                    denom = (v / (1.0 - beta2**step)).sqrt_().add_(_ADAM_EPS)
                    p.addcdiv_(m, denom, value=-lr / (1.0 - beta1**step))
    # A fixed schedule has no tolerance to miss: never at a cap.
    return FittedStart(stack.with_tensors(params), n_steps, False)


def network_sgd_steps(requests):
    """SelMix's SGD steps for runs whose stacks carry an adapter (see
    :func:`~skselmix._torch.heads.linear_sgd_steps`, which this replaces for them).

    Each step draws anchor and partner *rows* (as the linear steps do, from each run's
    own generator), passes both through the network's adapter, mixes their penultimate
    activations (``mix_features``) and takes one SGD step of the cross-entropy (label =
    anchor class) on every weight, with the weight decay on the weight matrices.
    Returns each request's new iterates and their moving average.
    """
    first = requests[0]
    if any(request.beside is not None for request in requests):
        raise ValueError("networks are their own model: they step no all-rows head beside them")
    decay = first.average_decay
    sizes = [request.heads.coef.shape[0] for request in requests]

    def stacked(stacks):  # every run's tensors, concatenated along the head axis
        return [torch.cat(parts) for parts in zip(*(stack.tensors() for stack in stacks))]

    params = stacked([request.heads for request in requests])
    averaged = stacked([request.evaluated for request in requests]) if decay else params
    template = first.heads  # the architecture every request shares (their key says so)
    batch, step = first.draws.batch_size, first.step
    for _ in range(first.n_steps):
        drawn = [request.draws.rows(size, request.pairs, request.sources, 1) for request, size in zip(requests, sizes)]
        x1 = torch.cat([rows[0][0] for rows in drawn])  # (H, batch, D)
        x2 = torch.cat([rows[1][0] for rows in drawn])
        target = torch.cat([rows[2][0] for rows in drawn])  # (H, batch) anchor classes
        for t in params:
            t.requires_grad_(True)
        coef, intercept, adapter = template.with_tensors(params)
        z1, z2 = adapter.forward(x1), adapter.forward(x2)
        # Mixed at the penultimate layer, with each run's own draws and mixing settings.
        mixed = torch.cat([
            request.draws.mix(a.flatten(0, 1), b.flatten(0, 1)).view(a.shape)
            for a, b, request in zip(z1.split(sizes), z2.split(sizes), requests)
        ])
        logits = torch.baddbmm(intercept.unsqueeze(1), mixed, coef.transpose(1, 2))
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1),
                                                 reduction="sum") / batch
        grads = torch.autograd.grad(loss, params)
        lr = first.learning_rate_at(step)
        with torch.no_grad():
            for index, (t, g) in enumerate(zip(params, grads)):
                t.requires_grad_(False)
                if template.is_weight_matrix(index):
                    t.mul_(1.0 - lr * first.l2)
                t.sub_(g, alpha=lr)
            if decay:
                for a, t in zip(averaged, params):
                    a.lerp_(t, 1.0 - decay)
        step += 1
    own = zip(*(t.split(sizes) for t in params))
    avg = zip(*(t.split(sizes) for t in averaged))
    return [Stepped(template.with_tensors(mine), template.with_tensors(mean)) for mine, mean in zip(own, avg)]

