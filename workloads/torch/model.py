"""wattbench's one reference model: a Llama-style decoder-only transformer with random weights.

RMSNorm, rotary position embeddings, grouped-query attention (kvHeads <= heads), SwiGLU MLP, untied input and
output embeddings -- the architecture of Llama 2 and Llama 3, so the named public shapes in
workloads/model_sizes.json have their real parameter counts and their real per-token work. No weights are
downloaded: every chip runs the same arithmetic on the same shapes, which is all an energy comparison needs.

Works with torch 1.13 (Debian's) and newer: where torch.nn.functional.scaled_dot_product_attention exists
(torch >= 2.0) attention uses it (flash / memory-efficient kernels on accelerators); elsewhere it falls back to
the explicit softmax(QK^T)V.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, asdict
from typing import Dict, List, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

SIZES_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "model_sizes.json")

HAVE_SDPA = hasattr(F, "scaled_dot_product_attention")
# whether attend() uses SDPA; choose_attention() turns it off on a device whose plugin lacks the kernel
USE_SDPA = HAVE_SDPA


def choose_attention(device, dtype) -> str:
    """Try SDPA once on the device (forward and backward, causal, GQA-sized heads); fall back to the explicit
    softmax(QK^T)V where it is missing or fails. Returns the path chosen, recorded in the result's start info."""
    global USE_SDPA
    USE_SDPA = HAVE_SDPA
    if HAVE_SDPA:
        try:
            q = torch.randn(1, 2, 4, 8, device=device, dtype=dtype, requires_grad=True)
            F.scaled_dot_product_attention(q, q, q, is_causal=True).sum().backward()
        except (RuntimeError, NotImplementedError, TypeError):
            USE_SDPA = False
    return "sdpa" if USE_SDPA else "explicit"


@dataclass(frozen=True)
class Shape:
    vocab: int
    dModel: int
    layers: int
    heads: int
    kvHeads: int
    ffHidden: int
    ropeTheta: float = 10000.0
    normEps: float = 1e-5

    @property
    def headDim(self) -> int:
        return self.dModel // self.heads

    def check(self) -> None:
        """Raise ValueError naming the field when the shape cannot be built."""
        for k in ("vocab", "dModel", "layers", "heads", "kvHeads", "ffHidden"):
            if int(getattr(self, k)) < 1:
                raise ValueError(f"shape.{k} must be >= 1, got {getattr(self, k)}")
        if self.dModel % self.heads:
            raise ValueError(f"shape.dModel ({self.dModel}) must be a multiple of shape.heads ({self.heads})")
        if self.headDim % 2:
            raise ValueError(f"head size dModel/heads = {self.headDim} must be even (rotary embeddings rotate pairs)")
        if self.heads % self.kvHeads:
            raise ValueError(f"shape.heads ({self.heads}) must be a multiple of shape.kvHeads ({self.kvHeads})")


SHAPE_FIELDS = ("vocab", "dModel", "layers", "heads", "kvHeads", "ffHidden", "ropeTheta", "normEps")


def load_sizes(path: str = SIZES_FILE) -> Dict[str, dict]:
    with open(path, encoding="utf-8") as f:
        return json.load(f)["sizes"]


def shape_from_dict(d: dict) -> Shape:
    s = Shape(**{k: d[k] for k in SHAPE_FIELDS if k in d})
    s.check()
    return s


def resolve_shape(model_size: str, custom: Optional[dict] = None, sizes: Optional[Dict[str, dict]] = None) -> Shape:
    """A named size from model_sizes.json, or the suite's own shape when modelSize is 'custom'."""
    if model_size == "custom":
        if not custom:
            raise ValueError("modelSize 'custom' needs a shape {vocab, dModel, layers, heads, kvHeads, ffHidden}")
        return shape_from_dict({"kvHeads": custom.get("heads"), **custom})
    sizes = sizes if sizes is not None else load_sizes()
    if model_size not in sizes:
        raise ValueError(f"unknown modelSize '{model_size}' (known: {', '.join(sizes)}, custom)")
    return shape_from_dict(sizes[model_size])


# ---- counting: parameters and model FLOPs, from the shape alone --------------------------------------------

def count_parameters(s: Shape) -> int:
    """Parameters of Llama(s): the same number sum(p.numel()) gives, without building the model."""
    hd = s.headDim
    attn = s.dModel * s.heads * hd + 2 * s.dModel * s.kvHeads * hd + s.heads * hd * s.dModel
    mlp = 3 * s.dModel * s.ffHidden
    per_layer = attn + mlp + 2 * s.dModel  # two RMSNorm weights
    return s.vocab * s.dModel * 2 + s.layers * per_layer + s.dModel  # embedding + lm_head (untied) + final norm


def matmul_parameters(s: Shape) -> int:
    """Parameters that take part in a matrix multiply: all but the input embedding table (a lookup) and the
    RMSNorm weights (elementwise)."""
    return count_parameters(s) - s.vocab * s.dModel - (2 * s.layers + 1) * s.dModel


def train_flops_per_token(s: Shape, seq_len: int) -> float:
    """Model FLOPs per trained token (forward + backward), the PaLM convention (Chowdhery et al. 2022, app. B):

        6 * N_matmul + 12 * layers * heads * headDim * seqLen

    6 * N: 2 FLOPs per multiply-add per weight in the forward pass, twice that in the backward pass.
    12 * L * H * hd * S: the attention scores QK^T and the weighted sum AV, 2 * 2 * S * (H * hd) per token and layer
    forward, x3 with backward, counted over the full S x S matrix (causal masking skips about half of it; like
    PaLM we count it all so MFU stays comparable with published figures). Recomputation is not counted: this is
    model FLOPs, not hardware FLOPs."""
    return 6.0 * matmul_parameters(s) + 12.0 * s.layers * s.heads * s.headDim * seq_len


def forward_flops_per_token(s: Shape, context: float) -> float:
    """Forward FLOPs for one token that attends to `context` positions: 2 * N_matmul + 4 * L * H * hd * context."""
    return 2.0 * matmul_parameters(s) + 4.0 * s.layers * s.heads * s.headDim * context


# ---- the model ---------------------------------------------------------------------------------------------

class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float, device=None, dtype=None):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim, device=device, dtype=dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # normalize in fp32 as Llama's reference code does: bf16/fp16 sums of squares lose precision
        xf = x.float()
        xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return xf.to(x.dtype) * self.weight


class Rotary(nn.Module):
    """cos/sin tables for positions [0, maxPositions); applied in the 'rotate half' form (as HF Llama)."""

    def __init__(self, head_dim: int, theta: float, max_positions: int, device=None, dtype=None):
        super().__init__()
        inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32, device=device) / head_dim))
        pos = torch.arange(max_positions, dtype=torch.float32, device=device)
        freqs = torch.outer(pos, inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)
        # buffers, not parameters: they are not counted and not trained
        self.register_buffer("cos", emb.cos().to(dtype), persistent=False)
        self.register_buffer("sin", emb.sin().to(dtype), persistent=False)

    def forward(self, x: torch.Tensor, pos0: int) -> torch.Tensor:  # x: [B, heads, T, hd]
        t = x.shape[-2]
        cos = self.cos[pos0:pos0 + t]
        sin = self.sin[pos0:pos0 + t]
        half = x.shape[-1] // 2
        rotated = torch.cat((-x[..., half:], x[..., :half]), dim=-1)
        return x * cos + rotated * sin


class KVCache:
    """Preallocated keys and values of one layer: [batch, kvHeads, maxPositions, headDim] each."""

    def __init__(self, batch: int, s: Shape, max_positions: int, device, dtype):
        self.k = torch.zeros(batch, s.kvHeads, max_positions, s.headDim, device=device, dtype=dtype)
        self.v = torch.zeros_like(self.k)


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool) -> torch.Tensor:
    """softmax(q k^T / sqrt(hd)) v over [B, H, T, hd]; k/v may have fewer heads (GQA) and are shared by groups."""
    groups = q.shape[1] // k.shape[1]
    if groups > 1:
        # query head h uses kv head h // groups (Llama's repeat_kv); expand + reshape is one copy, much cheaper
        # than repeat_interleave on CPU
        b, kv, t, hd = k.shape
        k = k[:, :, None].expand(b, kv, groups, t, hd).reshape(b, kv * groups, t, hd)
        v = v[:, :, None].expand(b, kv, groups, t, hd).reshape(b, kv * groups, t, hd)
    if USE_SDPA:
        return F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    scores = torch.matmul(q, k.transpose(-2, -1)) * (1.0 / math.sqrt(q.shape[-1]))
    if causal:
        t, s = scores.shape[-2], scores.shape[-1]
        mask = torch.ones(t, s, dtype=torch.bool, device=q.device).triu(s - t + 1)
        scores = scores.masked_fill(mask, float("-inf"))
    probs = torch.softmax(scores.float(), dim=-1).to(q.dtype)
    return torch.matmul(probs, v)


class Attention(nn.Module):
    def __init__(self, s: Shape, rotary: Rotary, device=None, dtype=None):
        super().__init__()
        self.s = s
        self.rotary = rotary
        hd = s.headDim
        self.wq = nn.Linear(s.dModel, s.heads * hd, bias=False, device=device, dtype=dtype)
        self.wk = nn.Linear(s.dModel, s.kvHeads * hd, bias=False, device=device, dtype=dtype)
        self.wv = nn.Linear(s.dModel, s.kvHeads * hd, bias=False, device=device, dtype=dtype)
        self.wo = nn.Linear(s.heads * hd, s.dModel, bias=False, device=device, dtype=dtype)

    def forward(self, x: torch.Tensor, pos0: int = 0, cache: Optional[KVCache] = None) -> torch.Tensor:
        b, t, _ = x.shape
        s, hd = self.s, self.s.headDim
        q = self.wq(x).view(b, t, s.heads, hd).transpose(1, 2)
        k = self.wk(x).view(b, t, s.kvHeads, hd).transpose(1, 2)
        v = self.wv(x).view(b, t, s.kvHeads, hd).transpose(1, 2)
        q = self.rotary(q, pos0)
        k = self.rotary(k, pos0)
        if cache is not None:
            cache.k[:, :, pos0:pos0 + t] = k
            cache.v[:, :, pos0:pos0 + t] = v
            k = cache.k[:, :, :pos0 + t]
            v = cache.v[:, :, :pos0 + t]
        if t > 1 and pos0 != 0:
            raise ValueError("a multi-token step must start at position 0 (prefill); decode one token at a time")
        # t == 1: one new token attends to everything cached, no mask needed
        out = attend(q, k, v, causal=t > 1)
        return self.wo(out.transpose(1, 2).reshape(b, t, s.heads * hd))


class SwiGLU(nn.Module):
    def __init__(self, s: Shape, device=None, dtype=None):
        super().__init__()
        self.gate = nn.Linear(s.dModel, s.ffHidden, bias=False, device=device, dtype=dtype)
        self.up = nn.Linear(s.dModel, s.ffHidden, bias=False, device=device, dtype=dtype)
        self.down = nn.Linear(s.ffHidden, s.dModel, bias=False, device=device, dtype=dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(F.silu(self.gate(x)) * self.up(x))


class Block(nn.Module):
    def __init__(self, s: Shape, rotary: Rotary, device=None, dtype=None):
        super().__init__()
        self.attn_norm = RMSNorm(s.dModel, s.normEps, device, dtype)
        self.attn = Attention(s, rotary, device, dtype)
        self.mlp_norm = RMSNorm(s.dModel, s.normEps, device, dtype)
        self.mlp = SwiGLU(s, device, dtype)

    def forward(self, x: torch.Tensor, pos0: int = 0, cache: Optional[KVCache] = None) -> torch.Tensor:
        x = x + self.attn(self.attn_norm(x), pos0, cache)
        return x + self.mlp(self.mlp_norm(x))


class Llama(nn.Module):
    def __init__(self, s: Shape, max_positions: int, device=None, dtype=None):
        super().__init__()
        s.check()
        self.shape = s
        self.max_positions = max_positions
        # the meta device holds no data: rotary tables are built there too (used for counting only)
        rotary = Rotary(s.headDim, s.ropeTheta, max_positions, device, dtype)
        self.embed = nn.Embedding(s.vocab, s.dModel, device=device, dtype=dtype)
        self.layers = nn.ModuleList([Block(s, rotary, device, dtype) for _ in range(s.layers)])
        self.norm = RMSNorm(s.dModel, s.normEps, device, dtype)
        self.lm_head = nn.Linear(s.dModel, s.vocab, bias=False, device=device, dtype=dtype)
        self.rotary = rotary  # registered once here; the blocks share it

    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def new_cache(self, batch: int) -> List[KVCache]:
        p = self.lm_head.weight
        return [KVCache(batch, self.shape, self.max_positions, p.device, p.dtype) for _ in range(self.shape.layers)]

    def forward(self, tokens: torch.Tensor, pos0: int = 0, caches: Optional[List[KVCache]] = None,
                last_only: bool = False) -> torch.Tensor:
        """tokens [B, T] -> logits [B, T, vocab] (or [B, 1, vocab] with last_only: prefill needs only the last)."""
        if pos0 + tokens.shape[1] > self.max_positions:
            raise ValueError(f"positions up to {pos0 + tokens.shape[1]} exceed the model's {self.max_positions}")
        x = self.embed(tokens)
        for i, layer in enumerate(self.layers):
            x = layer(x, pos0, caches[i] if caches is not None else None)
        if last_only:
            x = x[:, -1:]
        return self.lm_head(self.norm(x))


def describe_shape(s: Shape) -> dict:
    d = asdict(s)
    d["headDim"] = s.headDim
    return d
