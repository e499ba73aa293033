"""Forward-mode derivatives of the project's MLPs by hand: the tangents of P fitted parameters ride through
Linear/activation stacks as (n, P, H) blocks, so a Jacobian costs one batched matmul per layer instead of P
autodiff passes. Used by the label fitter (``gapviz.adapt.infer``) for the plain emulator and by the physical
adapter's observed decoder (``PhysicalAdapter.decode_obs_tangents``); each caller applies the last Linear."""

from __future__ import annotations

import torch


def activation_slope(layer: torch.nn.Module, x: torch.Tensor) -> torch.Tensor | None:
    """d layer(x) / dx for the elementwise activations the project uses (None for any other module)."""
    if isinstance(layer, torch.nn.SiLU):
        sig = torch.sigmoid(x)
        return sig * (1 + x * (1 - sig))
    if isinstance(layer, torch.nn.LeakyReLU):
        return torch.where(x > 0, 1.0, layer.negative_slope).to(x.dtype)
    if isinstance(layer, torch.nn.ReLU):
        return (x > 0).to(x.dtype)
    return None


def hidden_tangents(net: torch.nn.Sequential, x: torch.Tensor, dx_dz: torch.Tensor):
    """The last hidden layer h (n, H) of ``net`` at input x (n, I), and dh/dz (n, P, H) for an input whose
    derivative is dx/dz = ``dx_dz``: (I,) a diagonal (P = I), or (n, P, I). None if ``net`` is not
    Linear/activation pairs ending in a Linear (the last Linear is left to the caller)."""
    layers = list(net)
    if not layers or not isinstance(layers[-1], torch.nn.Linear):
        return None
    h, tangent = x, None
    for layer in layers[:-1]:
        if isinstance(layer, torch.nn.Linear):
            if tangent is None:
                if dx_dz.dim() == 1:  # a diagonal: the first layer's tangents are its scaled columns
                    tangent = (dx_dz.to(h.dtype)[:, None] * layer.weight.T).expand(h.shape[0], -1, -1)
                else:
                    tangent = dx_dz.to(h.dtype) @ layer.weight.T
            else:
                tangent = tangent @ layer.weight.T
            h = layer(h)
        else:
            slope = activation_slope(layer, h)
            if slope is None or tangent is None:
                return None
            tangent = tangent * slope[:, None, :]
            h = layer(h)
    return h, tangent
