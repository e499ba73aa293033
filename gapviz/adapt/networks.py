"""The domain-adaptation networks: encoders, decoders and discriminators on 1-D spectra.

Two architectures share one interface (``encode_synth``, ``encode_obs``, ``decode_synth``, ``decode_obs``):

* ``PhysicalAdapter`` (our default): the shared latent z_sh *is* the label vector, scaled to the
  emulator's [-0.5, 0.5] box; the synthetic decoder is the (frozen) emulator, and the observed decoder is a
  trainable copy of the emulator taking also a tiny free split latent (or ``emulator + δ`` MLP), times a
  per-chip Legendre continuum whose coefficients are the remaining z_sp entries.
  ``correction = adapted − theory`` is then interpretable per pixel, and label inference is direct.
* ``CycleStarNet``: the reference (O'Briain et al. 2021) — UNIT-style fully convolutional encoders
  (per-domain convs → shared convs → z_sh feature map), a split encoder on observed spectra, mirrored
  transposed-conv decoders. Used by the benchmark to compare like with like.

Spectra enter as flux (n, npix); encoders standardise them with the global mean/std of the synthetic flux.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn

from gapviz.adapt.config import ModelConfig
from gapviz.adapt.tangents import hidden_tangents
from gapviz.theory.emulator import FLUX_MAX


def conv_len(n: int, strides: list[int]) -> list[int]:
    """Lengths after each 'same'-padded strided conv: ceil(n / s) per layer (first entry n)."""
    out = [n]
    for s in strides:
        out.append(math.ceil(out[-1] / s))
    return out


def conv_stack(in_ch: int, filters: list[int], strides: list[int], kernel: int, slope: float,
               last_act: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (f, s) in enumerate(zip(filters, strides)):
        layers.append(nn.Conv1d(in_ch, f, kernel, stride=s, padding=kernel // 2))
        if last_act or i < len(filters) - 1:
            layers.append(nn.LeakyReLU(slope))
        in_ch = f
    return nn.Sequential(*layers)


def mlp(dims: list[int], slope: float) -> nn.Sequential:
    """Linear layers ``dims[0] → … → dims[-1]`` with LeakyReLU between (none after the last)."""
    layers: list[nn.Module] = []
    for i in range(len(dims) - 1):
        layers.append(nn.Linear(dims[i], dims[i + 1]))
        if i < len(dims) - 2:
            layers.append(nn.LeakyReLU(slope))
    return nn.Sequential(*layers)


class Deconv(nn.Module):
    """Transposed convs that undo ``conv_stack``: lengths ``lengths[-1] → … → lengths[0]`` exactly (cropped)."""

    def __init__(self, channels: list[int], strides: list[int], lengths: list[int], kernel: int, slope: float,
                 last_act: bool = True):
        super().__init__()
        self.layers = nn.ModuleList(
            nn.ConvTranspose1d(channels[i], channels[i + 1], kernel, stride=s, padding=kernel // 2, output_padding=s - 1)
            for i, s in enumerate(strides)
        )
        self.lengths = lengths
        self.act = nn.LeakyReLU(slope)
        self.last_act = last_act

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        for i, layer in enumerate(self.layers):
            h = layer(h)[..., : self.lengths[i + 1]]
            if self.last_act or i < len(self.layers) - 1:
                h = self.act(h)
        return h


class Standardise(nn.Module):
    """(flux − mean) / std with global scalars, adding a channel axis: (n, npix) → (n, 1, npix)."""

    def __init__(self, mean: float, std: float):
        super().__init__()
        self.register_buffer("mean", torch.tensor(float(mean)))
        self.register_buffer("std", torch.tensor(float(std)))

    def forward(self, flux: torch.Tensor) -> torch.Tensor:
        return ((flux - self.mean) / self.std).unsqueeze(1)


class SpectrumEncoder(nn.Module):
    """flux (n, npix) → vector (n, out): strided convs, flatten, dense layers."""

    def __init__(self, n_pix: int, out: int, cfg: ModelConfig, mean: float, std: float):
        super().__init__()
        self.norm = Standardise(mean, std)
        self.convs = conv_stack(1, cfg.enc_filters, cfg.enc_strides, cfg.kernel, cfg.negative_slope)
        flat = (cfg.enc_filters[-1] if cfg.enc_filters else 1) * conv_len(n_pix, cfg.enc_strides)[-1]
        self.head = mlp([flat, *cfg.enc_dense, out], cfg.negative_slope)

    def forward(self, flux: torch.Tensor) -> torch.Tensor:
        return self.head(self.convs(self.norm(flux)).flatten(1))


class PhysicalAdapter(nn.Module):
    """Label latent + frozen emulator + learned observed decoder. z_sh: (n, L) scaled labels;
    z_sp: (n, split_z) = cfg.split_z free entries, then the continuum coefficients (per cent).

    ``emulator``: a gapviz.theory.emulator.Emulator (``forward_scaled`` (n, L) → flux (n, npix)).
    """

    kind = "physical"

    def __init__(self, emulator: nn.Module, cfg: ModelConfig, mean: float, std: float):
        super().__init__()
        self.emulator = emulator
        for p in self.emulator.parameters():
            p.requires_grad_(False)
        n_pix, n_label = emulator.n_pix, emulator.n_label
        basis = continuum_basis(emulator.wavelength, cfg.continuum_degree)
        self.register_buffer("continuum_basis", basis)  # (n_cont, npix)
        self.n_pix, self.n_label, self.n_free = n_pix, n_label, cfg.split_z
        self.split_z = cfg.split_z + basis.shape[0]  # free entries, then continuum coefficients (%)
        self.enc_synth = SpectrumEncoder(n_pix, n_label, cfg, mean, std)
        self.enc_obs = SpectrumEncoder(n_pix, n_label + self.split_z, cfg, mean, std)
        self.observed_decoder = cfg.observed_decoder
        if cfg.observed_decoder == "emulator_copy":
            self.obs_net = _extended_copy(emulator.net, self.n_free)
        else:
            self.correction = mlp([n_label + self.n_free, *cfg.correction_hidden, n_pix], cfg.negative_slope)
            with torch.no_grad():  # start as the plain theory: δ = 0
                self.correction[-1].weight.mul_(0.01)
                self.correction[-1].bias.zero_()
        self.register_buffer("split_mean", torch.zeros(self.split_z))  # population mean of z_sp (running)

    def encode_synth(self, flux: torch.Tensor) -> torch.Tensor:
        return self.enc_synth(flux)

    def encode_obs(self, flux: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.enc_obs(flux)
        return h[:, : self.n_label], h[:, self.n_label :]

    def decode_synth(self, z_sh: torch.Tensor) -> torch.Tensor:
        return self.emulator.forward_scaled(z_sh)

    def delta(self, z_sh: torch.Tensor, z_sp: torch.Tensor) -> torch.Tensor:
        """The correction δ (n, npix), flux units: what the theory lacks."""
        return self.decode_obs(z_sh, z_sp) - self.decode_synth(z_sh)

    def decode_obs(self, z_sh: torch.Tensor, z_sp: torch.Tensor) -> torch.Tensor:
        x = torch.cat([z_sh, z_sp[:, : self.n_free]], dim=1)
        if self.observed_decoder == "emulator_copy":
            flux = FLUX_MAX * torch.sigmoid(self.obs_net(x))
        else:
            flux = self.decode_synth(z_sh) + self.correction(x)
        if self.continuum_basis.shape[0]:
            flux = flux * (1.0 + 0.01 * z_sp[:, self.n_free :] @ self.continuum_basis)
        return flux

    def decode_obs_tangents(self, z_sh: torch.Tensor, z_sp: torch.Tensor, dz_sh: torch.Tensor,
                            dz_sp: torch.Tensor, pixel_weight: torch.Tensor | None = None):
        """``decode_obs(z_sh, z_sp)`` (n, npix) and its derivative (n, L + split_z, npix) with respect to P
        fitted numbers whose derivatives are d z_sh/dz = ``dz_sh`` (L,) and d z_sp/dz = ``dz_sp`` (split_z,)
        (diagonal), each pixel's derivative times ``pixel_weight`` (n, npix) if given: the label fitter's
        Jacobian by hand (``gapviz.adapt.tangents``), in as few passes over the (n, P, npix) block as it
        takes. None where a layer is not one the tangents know."""
        L, nf, n_cont = self.n_label, self.n_free, self.continuum_basis.shape[0]
        x = torch.cat([z_sh, z_sp[:, :nf]], dim=1)
        dx = torch.cat([dz_sh, dz_sp[:nf]]).to(x.dtype)
        cont = 1.0 + 0.01 * z_sp[:, nf:] @ self.continuum_basis if n_cont else torch.ones_like(x[:, :1])
        weight = cont if pixel_weight is None else cont * pixel_weight
        if self.observed_decoder == "emulator_copy":
            hidden = hidden_tangents(self.obs_net, x, dx)
            emu_hidden, corr_hidden, emu_last = hidden, None, self.obs_net[-1]
        else:
            emu_hidden = hidden_tangents(self.emulator.net, z_sh, dz_sh.to(z_sh.dtype))
            corr_hidden, emu_last = hidden_tangents(self.correction, x, dx), self.emulator.net[-1]
            if corr_hidden is None:
                return None
        if emu_hidden is None:
            return None
        n, n_pix = x.shape[0], self.n_pix
        jac = torch.empty(n, L + self.split_z, n_pix, dtype=x.dtype, device=x.device)
        sig = torch.sigmoid(emu_last(emu_hidden[0]))
        base = FLUX_MAX * sig
        slope = base.mul(1 - sig).mul_(weight)[:, None, :]  # d flux / d(the sigmoid's argument), weighted
        rows = emu_hidden[1].shape[1]  # L (+ nf for the emulator copy)
        torch.mul(emu_hidden[1] @ emu_last.weight.T, slope, out=jac[:, :rows])
        jac[:, rows : L + nf] = 0.0  # the free entries move the correction only
        if corr_hidden is not None:
            last = self.correction[-1]
            base = base + last(corr_hidden[0])
            jac[:, : L + nf].addcmul_(corr_hidden[1] @ last.weight.T, weight[:, None, :])
        if not n_cont:
            return base, jac
        d_cont = (0.01 * dz_sp[nf:].to(base.dtype))[None, :, None] * self.continuum_basis[None]
        jac[:, L + nf :] = d_cont * (base if pixel_weight is None else base * pixel_weight)[:, None, :]
        return base * cont, jac

    def copy_synth_encoder_to_obs(self) -> None:
        """Start the observed encoder as the synthetic one (its label outputs; z_sp outputs keep their init)."""
        with torch.no_grad():
            src, dst = self.enc_synth.state_dict(), self.enc_obs.state_dict()
            for k, v in src.items():
                if dst[k].shape == v.shape:
                    dst[k].copy_(v)
                else:  # the last layer: the first n_label rows are the labels
                    dst[k][: v.shape[0]].copy_(v)

    def split_prior(self, z_sp: torch.Tensor) -> torch.Tensor:
        """A z_sp per row drawn from the batch's own population (rows shuffled), for synthetic→observed."""
        return z_sp[torch.randperm(z_sp.shape[0], device=z_sp.device)]


def continuum_basis(wavelength, degree: int) -> torch.Tensor:
    """(n_chip·(degree+1), npix) Legendre polynomials P_0..P_degree over each APOGEE chip's pixels (zero
    elsewhere; pixels outside every chip form one more segment). Empty for degree < 0."""
    import numpy as np

    from gapviz.io.grids import chip_of

    wavelength = np.asarray(wavelength, dtype=np.float64)
    if degree < 0:
        return torch.zeros(0, wavelength.size)
    rows = []
    chips = chip_of(wavelength)
    for chip in np.unique(chips):
        sel = chips == chip
        w = wavelength[sel]
        x = 2 * (w - w.min()) / max(w.max() - w.min(), 1e-9) - 1
        for k in range(degree + 1):
            row = np.zeros(wavelength.size)
            row[sel] = np.polynomial.legendre.Legendre.basis(k)(x)
            rows.append(row)
    return torch.as_tensor(np.array(rows), dtype=torch.float32)


def _extended_copy(net: nn.Sequential, n_extra: int) -> nn.Sequential:
    """A trainable copy of the emulator's MLP whose first layer also takes ``n_extra`` inputs (weights 0)."""
    net = copy.deepcopy(net)
    first = net[0]
    wider = nn.Linear(first.in_features + n_extra, first.out_features)
    with torch.no_grad():
        wider.weight.zero_()
        wider.weight[:, : first.in_features] = first.weight
        wider.bias.copy_(first.bias)
    net[0] = wider
    for p in net.parameters():
        p.requires_grad_(True)
    return net


class CycleStarNet(nn.Module):
    """The reference architecture (fully convolutional latents). z_sh: (n, shared_z, Lz); z_sp: (n, split_z, Lsp)."""

    kind = "cyclestarnet"

    def __init__(self, n_pix: int, cfg: ModelConfig, mean: float, std: float):
        super().__init__()
        k, a = cfg.kernel, cfg.negative_slope
        self.n_pix = n_pix
        self.norm = Standardise(mean, std)
        self.mean, self.std = float(mean), float(std)
        dom_len = conv_len(n_pix, cfg.enc_strides)
        sh_len = conv_len(dom_len[-1], cfg.shared_strides)
        sp_len = conv_len(n_pix, cfg.split_strides)
        c_dom = cfg.enc_filters[-1]
        self.enc_synth = conv_stack(1, cfg.enc_filters, cfg.enc_strides, k, a)
        self.enc_obs = conv_stack(1, cfg.enc_filters, cfg.enc_strides, k, a)
        self.enc_shared = nn.Sequential(conv_stack(c_dom, cfg.shared_filters, cfg.shared_strides, k, a),
                                        nn.Conv1d(cfg.shared_filters[-1], cfg.shared_z, 1))
        self.enc_split = nn.Sequential(conv_stack(1, cfg.split_filters, cfg.split_strides, k, a),
                                       nn.Conv1d(cfg.split_filters[-1], cfg.split_z, 1))
        sh_ch = [cfg.shared_z, *cfg.shared_filters[::-1][1:], c_dom]
        self.dec_shared = Deconv(sh_ch, cfg.shared_strides[::-1], sh_len[::-1], k, a)
        dom_ch = [*cfg.enc_filters[::-1], cfg.enc_filters[0]]
        self.dec_synth = Deconv(dom_ch, cfg.enc_strides[::-1], dom_len[::-1], k, a)
        self.dec_obs = Deconv(dom_ch, cfg.enc_strides[::-1], dom_len[::-1], k, a)
        sp_ch = [cfg.split_z, *cfg.split_filters[::-1]]
        self.dec_split = Deconv(sp_ch, cfg.split_strides[::-1], sp_len[::-1], k, a)
        self.out_synth = nn.Conv1d(cfg.enc_filters[0], 1, k, padding=k // 2)
        self.out_obs = nn.Conv1d(cfg.enc_filters[0] + cfg.split_filters[0], 1, k, padding=k // 2)
        self.register_buffer("split_mean", torch.zeros(cfg.split_z, sp_len[-1]))  # population mean of z_sp

    def encode_synth(self, flux: torch.Tensor) -> torch.Tensor:
        return self.enc_shared(self.enc_synth(self.norm(flux)))

    def encode_obs(self, flux: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.norm(flux)
        return self.enc_shared(self.enc_obs(x)), self.enc_split(x)

    def _out(self, h: torch.Tensor) -> torch.Tensor:
        return h.squeeze(1) * self.std + self.mean

    def decode_synth(self, z_sh: torch.Tensor) -> torch.Tensor:
        return self._out(self.out_synth(self.dec_synth(self.dec_shared(z_sh))))

    def decode_obs(self, z_sh: torch.Tensor, z_sp: torch.Tensor) -> torch.Tensor:
        h = torch.cat([self.dec_obs(self.dec_shared(z_sh)), self.dec_split(z_sp)], dim=1)
        return self._out(self.out_obs(h))

    def split_prior(self, z_sp: torch.Tensor) -> torch.Tensor:
        return z_sp[torch.randperm(z_sp.shape[0], device=z_sp.device)]


class Discriminator(nn.Module):
    """Scores (spectrum, latent) pairs: flux (n, npix) [+ latent (n, ...)] → logit (n,)."""

    def __init__(self, n_pix: int, latent_size: int, cfg: ModelConfig, mean: float, std: float):
        super().__init__()
        self.norm = Standardise(mean, std)
        self.convs = conv_stack(1, cfg.dis_filters, cfg.dis_strides, cfg.kernel, cfg.negative_slope)
        flat = cfg.dis_filters[-1] * conv_len(n_pix, cfg.dis_strides)[-1] if cfg.dis_filters else n_pix
        self.head = mlp([flat + latent_size, *cfg.dis_dense, 1], cfg.negative_slope)
        if cfg.spectral_norm:
            for m in self.modules():
                if isinstance(m, (nn.Conv1d, nn.Linear)):
                    nn.utils.parametrizations.spectral_norm(m)

    def forward(self, flux: torch.Tensor, latent: torch.Tensor | None = None) -> torch.Tensor:
        h = self.convs(self.norm(flux)).flatten(1)
        if latent is not None:
            h = torch.cat([h, latent.flatten(1)], dim=1)
        return self.head(h).squeeze(1)


def latent_size(model: nn.Module, cfg: ModelConfig) -> int:
    """Flattened size of z_sh for the discriminators."""
    if isinstance(model, PhysicalAdapter):
        return model.n_label
    dom = conv_len(model.n_pix, cfg.enc_strides)[-1]
    return cfg.shared_z * conv_len(dom, cfg.shared_strides)[-1]


def build_networks(cfg: ModelConfig, n_pix: int, mean: float, std: float, emulator: nn.Module | None = None
                   ) -> tuple[nn.Module, nn.Module, nn.Module]:
    """(generator, discriminator_synth, discriminator_obs) for ``cfg.kind``."""
    if cfg.kind == "physical":
        if emulator is None:
            raise ValueError("the physical model needs an emulator")
        gen: nn.Module = PhysicalAdapter(emulator, cfg, mean, std)
    else:
        gen = CycleStarNet(n_pix, cfg, mean, std)
    z = latent_size(gen, cfg)
    return gen, Discriminator(n_pix, z, cfg, mean, std), Discriminator(n_pix, z, cfg, mean, std)
