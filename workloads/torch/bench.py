#!/usr/bin/env python3
"""wattbench's standardized PyTorch workloads, speaking the event protocol (workloads/PROTOCOL.md) on stdout.

    bench.py probe CONFIG_JSON   check python, torch, backend and dtype; print one JSON line; exit 2 on a problem
    bench.py train CONFIG_JSON   forward + backward + AdamW on random token batches
    bench.py infer CONFIG_JSON   prefill, then greedy decode with a KV cache, at fixed lengths and batch size

CONFIG_JSON is the config workloads/train.ts or infer.ts resolved (defaults filled in). Every event is printed
right after the device has been synchronized, so the harness stamps true window edges. Problems the user can fix
(no torch, a backend's plugin missing, a dtype the backend cannot do) exit with code 2 and one line on stderr:
`CODE: message — remedy`.
"""
from __future__ import annotations

import json
import os
import platform
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PEAK_FILE = os.path.join(HERE, "..", "peak_flops.json")
EXIT_BAD_INPUT = 2


def emit(**event) -> None:
    print(json.dumps(event), flush=True)


class Problem(Exception):
    def __init__(self, code: str, message: str, remedy: str = ""):
        super().__init__(message)
        self.code, self.message, self.remedy = code, message, remedy


def fail(mode: str, p: Problem) -> None:
    if mode == "probe":
        emit(wattbenchProbe=1, ok=False, code=p.code, message=p.message, remedy=p.remedy)
    sys.stderr.write(f"{p.code}: {p.message}{' — ' + p.remedy if p.remedy else ''}\n")
    sys.stderr.flush()
    sys.exit(EXIT_BAD_INPUT)


def import_torch():
    try:
        import torch  # noqa: F401
        return torch
    except ImportError as e:
        raise Problem("TORCH_MISSING", f"{sys.executable} cannot import torch ({e})",
                      "install PyTorch for this interpreter (Debian/Ubuntu: apt-get install python3-torch; "
                      "elsewhere: pip install torch), or point --python at an interpreter that has it")


def peak_tflops(device_name: str, dtype: str, path: str = PEAK_FILE):
    """(peak dense TFLOP/s or None, chip id or None, why) for the device the backend names."""
    if "MIG" in device_name.split():
        return None, None, "a MIG slice has a fraction of the chip; the table holds whole chips"
    with open(path, encoding="utf-8") as f:
        chips = json.load(f)["chips"]
    low = device_name.lower()
    for c in chips:
        if any(m.lower() in low for m in c["match"]):
            v = c["tflops"].get(dtype)
            return v, c["id"], ("" if v is not None else f"no published {dtype} peak for {c['id']}")
    return None, None, f"'{device_name}' is not in workloads/peak_flops.json"


class Env:
    """The chosen backend, device, dtype and the two functions every timestamp depends on."""

    def __init__(self, cfg: dict, torch):
        from backends import BackendError, select_backend, check_dtype, device_string, torch_dtype
        self.torch = torch
        if cfg.get("threads"):
            torch.set_num_threads(int(cfg["threads"]))
        try:
            self.sel = select_backend(cfg.get("backend", "auto"), torch)
            self.device = torch.device(device_string(self.sel))
            check_dtype(self.sel, torch, cfg["dtype"], self.device)
        except BackendError as e:
            raise Problem(e.code, e.message, e.remedy)
        self.dtype_name = cfg["dtype"]
        self.dtype = torch_dtype(torch, cfg["dtype"])
        from model import choose_attention
        self.attention = choose_attention(self.device, self.dtype)
        b = self.sel.backend
        self.sync = b.synchronize(torch, self.sel.mods)
        self.step_hook = b.step_hook(torch, self.sel.mods) if b.step_hook else (lambda: None)
        try:
            self.device_name = b.device_name(torch, self.sel.mods)
        except Exception:
            self.device_name = b.name
        self.plugin_versions = {}
        for name, mod in self.sel.mods.items():
            v = getattr(mod, "__version__", None)
            if isinstance(v, str):
                self.plugin_versions[name.split(".")[0]] = v

    def info(self) -> dict:
        return {
            "backend": self.sel.name, "device": str(self.device), "deviceName": self.device_name,
            "dtype": self.dtype_name, "torch": self.torch.__version__, "python": platform.python_version(),
            "threads": self.torch.get_num_threads(), "attention": self.attention,
            **({"plugins": self.plugin_versions} if self.plugin_versions else {}),
        }


def probe(cfg: dict) -> None:
    torch = import_torch()
    env = Env(cfg, torch)
    emit(wattbenchProbe=1, ok=True, **env.info())


def build_model(cfg: dict, env: Env, max_positions: int):
    from model import Llama, resolve_shape, count_parameters
    try:
        shape = resolve_shape(cfg["modelSize"], cfg.get("shape"))
    except ValueError as e:
        raise Problem("BAD_CONFIG", str(e), "fix modelSize / shape in the suite file")
    env.torch.manual_seed(int(cfg.get("seed", 0)))
    model = Llama(shape, max_positions, device=env.device, dtype=env.dtype)
    n = model.parameter_count()
    if n != count_parameters(shape):  # the analytic count is what the TypeScript side and reports use
        raise RuntimeError(f"parameter count {n} != analytic {count_parameters(shape)}")
    return model, shape, n


def random_batches(torch, env: Env, vocab: int, rows: int, cols: int, count: int = 2):
    # made on the CPU from the seeded generator, then moved: the same tokens on every backend
    return [torch.randint(0, vocab, (rows, cols)).to(env.device) for _ in range(count)]


def timed_loop(cfg: dict, run_one, on_done):
    """Measured iterations: a fixed count (steps) or whole iterations until durationS has passed."""
    steps, duration = cfg.get("steps"), cfg.get("durationS")
    emit(event="window_start")
    t0 = time.perf_counter()
    i = 0
    while True:
        run_one(i)  # synchronizes before it returns
        i += 1
        on_done(i)
        if steps is not None and i >= steps:
            break
        if steps is None and time.perf_counter() - t0 >= duration:
            break
    return i, time.perf_counter() - t0


def train(cfg: dict) -> None:
    torch = import_torch()
    import torch.nn.functional as F
    from model import train_flops_per_token, describe_shape
    env = Env(cfg, torch)
    b, s = int(cfg["batchSize"]), int(cfg["seqLen"])
    model, shape, n = build_model(cfg, env, s)
    model.train()
    # fp16 cannot hold AdamW's default eps (1e-8 underflows to 0); the value does not change the work done
    eps = 1e-4 if env.dtype_name == "fp16" else 1e-8
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.95), eps=eps, weight_decay=0.1)
    batches = random_batches(torch, env, shape.vocab, b, s + 1)
    fpt = train_flops_per_token(shape, s)
    peak, chip, why = peak_tflops(env.device_name, env.dtype_name)
    emit(event="start", info={"parameters": n, "workload": "train", "modelSize": cfg["modelSize"],
                              "shape": describe_shape(shape), "batchSize": b, "seqLen": s,
                              "modelFlopsPerToken": fpt, "peakTflops": peak, "peakChip": chip,
                              **({"peakUnknown": why} if peak is None else {}), **env.info()})

    def step(i: int) -> None:
        x = batches[i % len(batches)]
        logits = model(x[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, shape.vocab).float(), x[:, 1:].reshape(-1))
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        env.step_hook()
        env.sync()

    emit(event="warmup_start")
    for i in range(int(cfg.get("warmupSteps", 0))):
        step(i)
    env.sync()
    tokens_per_step = b * s
    count, elapsed = timed_loop(cfg, step, lambda i: emit(event="tokens", tokens=tokens_per_step, input=tokens_per_step))
    tps = count * tokens_per_step / elapsed
    achieved = tps * fpt / 1e12
    emit(event="metric", name="tokens_per_s", value=tps, unit="tokens/s")
    emit(event="metric", name="step_time_ms", value=elapsed / count * 1000, unit="ms")
    emit(event="metric", name="model_tflops_per_s", value=achieved, unit="TFLOP/s")
    emit(event="metric", name="model_flops_per_token", value=fpt, unit="FLOP")
    emit(event="metric", name="peak_tflops", value=peak, unit="TFLOP/s")
    # null when the chip's peak is not in peak_flops.json: unknown, never guessed
    emit(event="metric", name="mfu", value=(achieved / peak) if peak else None, unit="fraction")
    emit(event="window_end")


def infer(cfg: dict) -> None:
    torch = import_torch()
    from model import describe_shape
    env = Env(cfg, torch)
    b, n_in, n_out = int(cfg["batchSize"]), int(cfg["inputTokens"]), int(cfg["outputTokens"])
    model, shape, n = build_model(cfg, env, n_in + n_out)
    model.eval()
    caches = model.new_cache(b)  # reused every round: prefill overwrites from position 0
    prompts = random_batches(torch, env, shape.vocab, b, n_in)
    emit(event="start", info={"parameters": n, "workload": "infer", "modelSize": cfg["modelSize"],
                              "shape": describe_shape(shape), "batchSize": b, "inputTokens": n_in,
                              "outputTokens": n_out, **env.info()})
    times = {"prefill": 0.0, "decode": 0.0}

    def generate(i: int) -> None:
        with torch.no_grad():
            t0 = time.perf_counter()
            # prefill: the whole prompt at once; its last position gives the first output token
            logits = model(prompts[i % len(prompts)], 0, caches, last_only=True)
            nxt = logits[:, -1].argmax(-1, keepdim=True)
            env.step_hook()
            env.sync()
            t1 = time.perf_counter()
            # decode: one token per step, attending to the cache
            for j in range(n_out - 1):
                logits = model(nxt, n_in + j, caches)
                nxt = logits[:, -1].argmax(-1, keepdim=True)
                env.step_hook()
            env.sync()
            t2 = time.perf_counter()
        times["prefill"] += t1 - t0
        times["decode"] += t2 - t1

    emit(event="warmup_start")
    for i in range(int(cfg.get("warmupSteps", 0))):
        generate(i)
    env.sync()
    times["prefill"] = times["decode"] = 0.0
    count, elapsed = timed_loop(cfg, generate, lambda i: emit(event="tokens", tokens=b * n_out, input=b * n_in, output=b * n_out))
    decode_tokens = count * b * (n_out - 1)
    emit(event="metric", name="prefill_tokens_per_s", value=count * b * n_in / times["prefill"], unit="tokens/s")
    emit(event="metric", name="decode_tokens_per_s", value=(decode_tokens / times["decode"]) if decode_tokens else None, unit="tokens/s")
    emit(event="metric", name="time_per_output_token_ms", value=(times["decode"] / (count * (n_out - 1)) * 1000) if n_out > 1 else None, unit="ms")
    emit(event="metric", name="time_to_first_token_ms", value=times["prefill"] / count * 1000, unit="ms")
    emit(event="metric", name="output_tokens_per_s", value=count * b * n_out / elapsed, unit="tokens/s")
    emit(event="window_end")


MODES = {"probe": probe, "train": train, "infer": infer}


def main(argv) -> None:
    if len(argv) != 3 or argv[1] not in MODES:
        sys.stderr.write(f"usage: {os.path.basename(argv[0])} probe|train|infer CONFIG_JSON\n")
        sys.exit(EXIT_BAD_INPUT)
    mode = argv[1]
    try:
        cfg = json.loads(argv[2])
    except json.JSONDecodeError as e:
        fail(mode, Problem("BAD_CONFIG", f"config is not JSON: {e}", "pass the config as one JSON argument"))
    sys.path.insert(0, HERE)
    try:
        MODES[mode](cfg)
    except Problem as p:
        fail(mode, p)
    except RuntimeError as e:
        # every backend words it differently; all say "out of memory"
        if not any(w in str(e).lower() for w in ("out of memory", "not enough memory")):
            raise
        sys.stderr.write(f"OUT_OF_MEMORY: {str(e).splitlines()[0][:500]} — lower batchSize, seqLen or "
                         f"inputTokens/outputTokens, or choose a smaller modelSize\n")
        sys.exit(1)


if __name__ == "__main__":
    main(sys.argv)
