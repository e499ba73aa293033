"""One training step's losses, as nn.Modules so DistributedDataParallel can wrap them.

``GeneratorObjective(batch_obs, batch_synth)`` → dict of scalar losses (``total`` is what is minimised)
plus detached tensors the discriminator step needs; ``DiscriminatorObjective(pairs)`` → its loss.
Names of the loss terms (also the keys in metrics.jsonl):

* ``rec_obs``    observed → latent → observed χ² (per usable pixel, σ from flux_err)
* ``cc_obs``     observed → synthetic → observed cycle χ²
* ``rec_synth``  synthetic → latent → synthetic χ² (σ = floor)
* ``cc_synth``   synthetic → observed → synthetic cycle χ² (σ = floor)
* ``label``      physical: scaled-label supervision of the synthetic encoder + label/split cycle terms
* ``correction`` physical: mean (δ/σ)² of the correction; ``split``: mean z_sp²
* ``gen``, ``dis`` adversarial terms (0 when ``lambda_gen`` = 0)
"""

from __future__ import annotations

import torch
from torch import nn

from gapviz.adapt import losses as L
from gapviz.adapt.config import LossConfig
from gapviz.adapt.data import Batch
from gapviz.adapt.networks import PhysicalAdapter


def _chi2(model: torch.Tensor, b: Batch) -> torch.Tensor:
    return L.masked_chi2(model, b.flux, b.sigma, b.mask)


def _floor_chi2(model: torch.Tensor, target: torch.Tensor, floor: float) -> torch.Tensor:
    return ((model - target) / floor).pow(2).mean()


class GeneratorObjective(nn.Module):
    """Encoders + decoders and their losses. The discriminators are held outside the module tree (frozen here)."""

    def __init__(self, gen: nn.Module, dis_synth: nn.Module | None, dis_obs: nn.Module | None,
                 cfg: LossConfig, sigma_floor: float):
        super().__init__()
        self.gen = gen
        self._dis = (dis_synth, dis_obs)  # a tuple, so DDP of this module does not see their parameters
        self.cfg, self.floor = cfg, sigma_floor

    def forward(self, obs: Batch, syn: Batch) -> dict[str, torch.Tensor]:
        if isinstance(self.gen, PhysicalAdapter):
            return self._physical(obs, syn)
        return self._cyclestarnet(obs, syn)

    def _total(self, t: dict[str, torch.Tensor]) -> torch.Tensor:
        c = self.cfg
        return (c.lambda_obs * (t["rec_obs"] + t["cc_obs"]) + c.lambda_synth * (t["rec_synth"] + t["cc_synth"])
                + c.lambda_label * t["label"] + c.lambda_correction * t["correction"] + c.lambda_split * t["split"]
                + c.lambda_gen * t["gen"])

    def _physical(self, obs: Batch, syn: Batch) -> dict[str, torch.Tensor]:
        g, c = self.gen, self.cfg
        z_o, sp_o = g.encode_obs(obs.flux)
        # some stars are reconstructed with z_sp at its population mean: the labels must explain what they can
        drop = (torch.rand(len(obs), 1, device=sp_o.device) < c.split_dropout).to(sp_o.dtype)
        drop = drop * (torch.arange(sp_o.shape[1], device=sp_o.device) < g.n_free).to(sp_o.dtype)  # not the continuum
        sp_used = drop * g.split_mean.detach() + (1 - drop) * sp_o
        adapted_o = g.decode_obs(z_o, sp_used)
        delta_o = adapted_o - g.decode_synth(z_o)
        rec_obs = _chi2(adapted_o, obs)

        # the synthetic source: the emulator at the labels the observed encoder reads (population-matched,
        # jittered), and/or the labelled synthetic set; the synthetic encoder learns to read their labels
        target_s = emu_scale = g.emulator.scale(syn.labels)
        with torch.no_grad():
            z_src = (z_o.detach() + c.label_jitter * torch.randn_like(z_o)).clamp(-0.5, 0.5)
            x_src = g.decode_synth(z_src)
        if c.emulator_source:
            flux_s, target_s = torch.cat([x_src, syn.flux]), torch.cat([z_src, emu_scale])
        else:
            flux_s = syn.flux
        z_s = g.encode_synth(flux_s)
        rec_synth = _floor_chi2(g.decode_synth(z_s), flux_s, self.floor)
        label = L.label_loss(z_s, target_s)
        n = len(obs)
        if c.emulator_source:  # observed → synthetic (the emulator at its labels) → observed, and back
            z_hat, src, z_true = z_s[:n], x_src, z_src
            cc_obs = _chi2(g.decode_obs(z_hat, sp_o), obs)
        else:
            n = min(n, len(syn))
            z_hat, src, z_true = z_s[:n], syn.flux[:n], emu_scale[:n]
            cc_obs = _chi2(g.decode_obs(g.encode_synth(g.decode_synth(z_o)), sp_o), obs)

        # synthetic → observed (a z_sp from the observed population, the paired star's noise) → synthetic
        sp_prior = g.split_prior(sp_o.detach())[:n]
        x_so = g.decode_obs(z_hat, sp_prior)
        x_so_noisy = x_so + obs.sigma[:n] * obs.mask[:n] * torch.randn_like(x_so)
        z_sos, sp_sos = g.encode_obs(x_so_noisy)
        cc_synth = _floor_chi2(g.decode_synth(z_sos), src, self.floor)
        label = label + L.label_loss(z_sos, z_true) + L.label_loss(sp_sos, sp_prior)

        out = {
            "rec_obs": rec_obs, "cc_obs": cc_obs, "rec_synth": rec_synth, "cc_synth": cc_synth, "label": label,
            "correction": L.correction_penalty(delta_o, obs.sigma, obs.mask), "split": L.split_penalty(sp_o),
            "gen": torch.zeros((), device=obs.flux.device),
        }
        dis_obs = self._dis[1]
        if c.lambda_gen > 0 and dis_obs is not None:
            out["gen"] = L.generator_loss(dis_obs(x_so_noisy, z_hat), c.gan)
        out["total"] = self._total(out)
        out["_fake_obs"] = x_so_noisy.detach()
        out["_fake_obs_z"] = z_hat.detach()
        out["_real_obs_z"] = z_o.detach()
        out["_sp"] = sp_o.detach()
        return out

    def _cyclestarnet(self, obs: Batch, syn: Batch) -> dict[str, torch.Tensor]:
        g, c = self.gen, self.cfg
        z_o, sp_o = g.encode_obs(obs.flux)
        rec_obs = _chi2(g.decode_obs(z_o, sp_o), obs)
        z_s = g.encode_synth(syn.flux)
        rec_synth = _floor_chi2(g.decode_synth(z_s), syn.flux, self.floor)
        x_os = g.decode_synth(z_o)
        cc_obs = _chi2(g.decode_obs(g.encode_synth(x_os), sp_o), obs)
        sp_prior = g.split_prior(sp_o.detach())
        n = min(len(obs), len(syn))
        x_so = g.decode_obs(z_s[:n], sp_prior[:n])
        z_so, _ = g.encode_obs(x_so)
        cc_synth = _floor_chi2(g.decode_synth(z_so), syn.flux[:n], self.floor)
        zero = torch.zeros((), device=obs.flux.device)
        out = {"rec_obs": rec_obs, "cc_obs": cc_obs, "rec_synth": rec_synth, "cc_synth": cc_synth,
               "label": zero, "correction": zero, "split": zero, "gen": zero}
        dis_synth, dis_obs = self._dis
        if c.lambda_gen > 0 and dis_obs is not None:
            out["gen"] = (L.generator_loss(dis_obs(x_so, z_s[:n]), c.gan)
                          + L.generator_loss(dis_synth(x_os, z_o), c.gan))
        out["total"] = self._total(out)
        out.update({"_fake_obs": x_so.detach(), "_fake_obs_z": z_s[:n].detach(), "_real_obs_z": z_o.detach(),
                    "_fake_synth": x_os.detach(), "_fake_synth_z": z_o.detach(), "_real_synth_z": z_s.detach(),
                    "_sp": sp_o.detach()})
        return out


class DiscriminatorObjective(nn.Module):
    """Both discriminators (the synthetic one is absent for the physical model, whose x→synthetic is exact)."""

    def __init__(self, dis_synth: nn.Module | None, dis_obs: nn.Module, cfg: LossConfig):
        super().__init__()
        self.dis_synth, self.dis_obs, self.cfg = dis_synth, dis_obs, cfg

    def forward(self, obs: Batch, syn: Batch, gen_out: dict[str, torch.Tensor]) -> torch.Tensor:
        kind = self.cfg.gan
        loss = L.discriminator_loss(self.dis_obs(obs.flux, gen_out["_real_obs_z"]),
                                    self.dis_obs(gen_out["_fake_obs"], gen_out["_fake_obs_z"]), kind)
        if self.dis_synth is not None and "_fake_synth" in gen_out:
            loss = loss + L.discriminator_loss(self.dis_synth(syn.flux, gen_out["_real_synth_z"]),
                                               self.dis_synth(gen_out["_fake_synth"], gen_out["_fake_synth_z"]), kind)
        return loss


def pretrain_label_encoders(gen: PhysicalAdapter, steps: int, batch_size: int, lr: float,
                            noise: tuple[float, float] = (0.005, 0.02)) -> float:
    """Warm start: teach the synthetic encoder to read labels from noisy emulator spectra at labels drawn
    uniformly in the emulator's box, then copy it into the observed encoder. Returns the last label loss."""
    opt = torch.optim.Adam(gen.enc_synth.parameters(), lr=lr)
    device = gen.split_mean.device
    loss = torch.zeros(())
    for _ in range(steps):
        z = torch.rand(batch_size, gen.n_label, device=device) - 0.5
        with torch.no_grad():
            sigma = noise[0] + (noise[1] - noise[0]) * torch.rand(batch_size, 1, device=device)
            x = gen.decode_synth(z) + sigma * torch.randn(batch_size, gen.n_pix, device=device)
        loss = L.label_loss(gen.encode_synth(x), z)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    gen.copy_synth_encoder_to_obs()
    return float(loss.detach())
