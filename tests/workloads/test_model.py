"""Unit tests of the reference model (workloads/torch/model.py) and the MFU pieces of bench.py.

Run by tests/workloads/python.test.ts as `python3 -m unittest discover -s tests/workloads -p 'test_*.py'` with
workloads/torch on PYTHONPATH; runnable by hand the same way.
"""
import json
import math
import os
import unittest

import torch

import bench
import model as M

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def meta_count(name: str) -> int:
    """sum(p.numel()) of the real module tree, built on the meta device (shapes only, no memory)."""
    s = M.resolve_shape(name)
    return M.Llama(s, max_positions=8, device="meta", dtype=torch.float32).parameter_count()


class PublishedParameterCounts(unittest.TestCase):
    # The vendors' published totals (Llama 2 paper / model cards), written here rather than read from
    # model_sizes.json so a wrong shape in that file makes this fail.
    PUBLISHED = {"llama-2-7b": 6.74e9, "llama-2-13b": 13.0e9, "llama-3-8b": 8.03e9}

    def test_public_shapes_match_published_totals_within_1pct(self):
        for name, published in self.PUBLISHED.items():
            with self.subTest(name=name):
                n = meta_count(name)
                self.assertLess(abs(n - published) / published, 0.01, f"{name}: {n} vs published {published}")

    def test_exact_counts_of_the_hf_checkpoints(self):
        # sums over the tensors of the Hugging Face checkpoints (embed_tokens, layers, norm, lm_head)
        self.assertEqual(meta_count("llama-2-7b"), 6_738_415_616)
        self.assertEqual(meta_count("llama-3-8b"), 8_030_261_248)
        self.assertEqual(meta_count("llama-2-13b"), 13_015_864_320)

    def test_analytic_count_equals_module_count_for_every_named_size(self):
        for name in M.load_sizes():
            with self.subTest(name=name):
                self.assertEqual(M.count_parameters(M.resolve_shape(name)), meta_count(name))

    def test_named_sizes_are_near_their_names(self):
        want = {"125m": 125e6, "350m": 350e6, "1.3b": 1.3e9}
        for name, n in want.items():
            with self.subTest(name=name):
                got = meta_count(name)
                self.assertLess(abs(got - n) / n, 0.1, f"{name}: {got}")
        tiny = meta_count("tiny")
        self.assertTrue(1e6 <= tiny <= 10e6, tiny)

    def test_published_field_in_the_sizes_file_agrees(self):
        for name, d in M.load_sizes().items():
            if "parametersPublished" in d:
                with self.subTest(name=name):
                    self.assertLess(abs(meta_count(name) - d["parametersPublished"]) / d["parametersPublished"], 0.01)


class Shapes(unittest.TestCase):
    def test_custom_shape_and_its_checks(self):
        s = M.resolve_shape("custom", {"vocab": 100, "dModel": 32, "layers": 1, "heads": 4, "ffHidden": 64})
        self.assertEqual(s.kvHeads, 4)  # defaults to heads (no GQA)
        with self.assertRaisesRegex(ValueError, "multiple of shape.kvHeads"):
            M.resolve_shape("custom", {"vocab": 100, "dModel": 32, "layers": 1, "heads": 4, "kvHeads": 3, "ffHidden": 64})
        with self.assertRaisesRegex(ValueError, "must be even"):
            M.resolve_shape("custom", {"vocab": 100, "dModel": 36, "layers": 1, "heads": 4, "ffHidden": 64})
        with self.assertRaisesRegex(ValueError, "unknown modelSize"):
            M.resolve_shape("llama-9")


class Forward(unittest.TestCase):
    def setUp(self):
        torch.manual_seed(0)
        self.s = M.resolve_shape("tiny")
        self.m = M.Llama(self.s, max_positions=32, dtype=torch.float32).eval()

    def test_forward_shapes(self):
        x = torch.randint(0, self.s.vocab, (2, 16))
        with torch.no_grad():
            self.assertEqual(tuple(self.m(x).shape), (2, 16, self.s.vocab))
            self.assertEqual(tuple(self.m(x, 0, self.m.new_cache(2), last_only=True).shape), (2, 1, self.s.vocab))
        caches = self.m.new_cache(3)
        self.assertEqual(len(caches), self.s.layers)
        self.assertEqual(tuple(caches[0].k.shape), (3, self.s.kvHeads, 32, self.s.headDim))

    def test_training_step_gives_every_parameter_a_gradient(self):
        x = torch.randint(0, self.s.vocab, (2, 9))
        m = M.Llama(self.s, max_positions=8, dtype=torch.float32)
        loss = torch.nn.functional.cross_entropy(m(x[:, :-1]).reshape(-1, self.s.vocab), x[:, 1:].reshape(-1))
        loss.backward()
        self.assertTrue(math.isfinite(loss.item()))
        for name, p in m.named_parameters():
            self.assertIsNotNone(p.grad, name)

    def test_causal_an_earlier_position_ignores_later_tokens(self):
        x = torch.randint(0, self.s.vocab, (1, 12))
        y = x.clone()
        y[0, 8:] = (y[0, 8:] + 1) % self.s.vocab
        with torch.no_grad():
            a, b = self.m(x), self.m(y)
        self.assertTrue(torch.allclose(a[:, :8], b[:, :8], atol=1e-5))
        self.assertFalse(torch.allclose(a[:, 8:], b[:, 8:], atol=1e-5))

    def test_kv_cache_decode_equals_full_forward(self):
        # prefill 10 tokens, decode 5 one at a time: each step's logits must equal the full forward's at that
        # position (checks the cache writes, rotary offsets and GQA sharing together)
        x = torch.randint(0, self.s.vocab, (2, 15))
        with torch.no_grad():
            full = self.m(x)
            caches = self.m.new_cache(2)
            pre = self.m(x[:, :10], 0, caches, last_only=True)
            self.assertTrue(torch.allclose(pre[:, 0], full[:, 9], atol=1e-4))
            for t in range(10, 15):
                step = self.m(x[:, t:t + 1], t, caches)
                self.assertTrue(torch.allclose(step[:, 0], full[:, t], atol=1e-4), f"position {t}")

    def test_attend_matches_a_plain_per_head_loop_on_both_paths(self):
        torch.manual_seed(1)
        q = torch.randn(2, 4, 6, 8)
        k = torch.randn(2, 2, 6, 8)
        v = torch.randn(2, 2, 6, 8)
        paths = [False] + ([True] if M.HAVE_SDPA else [])  # explicit always; SDPA where torch has it (>= 2.0)
        try:
            for use_sdpa in paths:
                M.USE_SDPA = use_sdpa
                out = M.attend(q, k, v, causal=True)
                for h in range(4):
                    kh, vh = k[:, h // 2], v[:, h // 2]
                    s = q[:, h] @ kh.transpose(-1, -2) / math.sqrt(8)
                    s = s.masked_fill(torch.ones(6, 6, dtype=torch.bool).triu(1), float("-inf"))
                    ref = torch.softmax(s, -1) @ vh
                    self.assertTrue(torch.allclose(out[:, h], ref, atol=1e-5), f"head {h}, sdpa={use_sdpa}")
        finally:
            M.USE_SDPA = M.HAVE_SDPA

    def test_choose_attention_names_the_path(self):
        self.assertEqual(M.choose_attention(torch.device("cpu"), torch.float32), "sdpa" if M.HAVE_SDPA else "explicit")

    def test_positions_beyond_the_model_are_refused(self):
        with self.assertRaisesRegex(ValueError, "exceed"):
            self.m(torch.zeros(1, 33, dtype=torch.long))

    def test_bf16_forward_runs_on_cpu(self):
        m = M.Llama(self.s, max_positions=8, dtype=torch.bfloat16)
        with torch.no_grad():
            out = m(torch.randint(0, self.s.vocab, (1, 8)))
        self.assertEqual(out.dtype, torch.bfloat16)


class Flops(unittest.TestCase):
    def test_palm_formula_by_hand_for_llama_2_7b(self):
        s = M.resolve_shape("llama-2-7b")
        n_mm = 6_738_415_616 - 32000 * 4096 - (2 * 32 + 1) * 4096  # minus input embedding and norm weights
        self.assertEqual(M.matmul_parameters(s), n_mm)
        self.assertEqual(M.train_flops_per_token(s, 4096), 6 * n_mm + 12 * 32 * 32 * 128 * 4096)
        self.assertEqual(M.forward_flops_per_token(s, 100), 2 * n_mm + 4 * 32 * 32 * 128 * 100)


class PeakTable(unittest.TestCase):
    def test_lookup_by_device_name(self):
        self.assertEqual(bench.peak_tflops("NVIDIA H100 80GB HBM3", "bf16")[:2], (989.4, "nvidia-h100-sxm"))
        self.assertEqual(bench.peak_tflops("NVIDIA H100 PCIe", "fp32")[:2], (51.2, "nvidia-h100-pcie"))
        self.assertEqual(bench.peak_tflops("NVIDIA A100-SXM4-80GB", "fp16")[0], 312.0)
        self.assertEqual(bench.peak_tflops("AMD Instinct MI300X", "bf16")[0], 1307.4)
        # specific rows before general ones: L40S / L40 / L4 and H200 / H20 are different chips
        self.assertEqual(bench.peak_tflops("NVIDIA L40S", "bf16")[1], "nvidia-l40s")
        self.assertEqual(bench.peak_tflops("NVIDIA L40", "bf16")[1], "nvidia-l40")
        self.assertEqual(bench.peak_tflops("NVIDIA L4", "bf16")[1], "nvidia-l4")
        self.assertEqual(bench.peak_tflops("NVIDIA H200", "bf16")[1], "nvidia-h200-sxm")
        self.assertEqual(bench.peak_tflops("NVIDIA H20", "bf16")[1], "nvidia-h20")

    def test_unknown_is_none_never_a_guess(self):
        v, chip, why = bench.peak_tflops("AMD EPYC 9654", "fp32")
        self.assertIsNone(v)
        self.assertIsNone(chip)
        self.assertIn("not in", why)
        self.assertIsNone(bench.peak_tflops("NVIDIA V100-SXM2-32GB", "bf16")[0])  # no bf16 on Volta
        self.assertIsNone(bench.peak_tflops("NVIDIA H100 80GB HBM3 MIG 1g.10gb", "bf16")[0])

    def test_table_rows_are_complete_and_cited(self):
        with open(os.path.join(ROOT, "workloads", "peak_flops.json"), encoding="utf-8") as f:
            chips = json.load(f)["chips"]
        ids = [c["id"] for c in chips]
        self.assertEqual(len(ids), len(set(ids)))
        for c in chips:
            with self.subTest(chip=c["id"]):
                self.assertTrue(c["match"] and all(isinstance(m, str) and m for m in c["match"]))
                self.assertEqual(set(c["tflops"]), {"bf16", "fp16", "fp32"})
                for v in c["tflops"].values():
                    self.assertTrue(v is None or (isinstance(v, (int, float)) and 0 < v < 100000))
                self.assertGreater(len(c["source"]), 20)


if __name__ == "__main__":
    unittest.main()
