"""The PyTorch backends wattbench knows, in one table, and the choice among them.

Each row says how to reach one vendor's device from PyTorch: which plugin module to import (None where torch
itself carries the backend), the device string, and how to ask whether a device is there, to synchronize it, to
name it and (Gaudi's lazy mode only) to flush queued work. Everything else in the workloads is backend-neutral.

The choice logic takes the importer and the torch module as arguments, so the tests exercise every row with
fakes on a machine that has none of these devices (tests/workloads/test_backends.py).
"""
from __future__ import annotations

import importlib
import platform
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple


class BackendError(Exception):
    """A requested backend or dtype that cannot run here: code, what happened, how to fix it."""

    def __init__(self, code: str, message: str, remedy: str = ""):
        super().__init__(message)
        self.code = code
        self.message = message
        self.remedy = remedy


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "CPU"


def _torch_attr(name: str):
    """torch.<name> (torch.cuda, torch.npu, ...): plugins attach their module to torch when imported. Where a
    plugin does not (older vendor releases), its own module, which then offers the same functions."""
    def api(torch, mods):
        found = getattr(torch, name, None)
        if found is not None:
            return found
        for m in mods.values():
            if hasattr(m, "synchronize") and hasattr(m, "is_available"):
                return m
        return getattr(torch, name)  # raises AttributeError: "not built into this torch"
    return api


@dataclass(frozen=True)
class Backend:
    name: str
    vendor: str
    # modules to import before the backend exists; the first that imports wins (xpu: native, else IPEX)
    plugins: Tuple[str, ...]
    plugin_required: bool
    install: str  # what to install when the plugin is missing
    device: str  # torch device type string
    # module that holds is_available/synchronize/get_device_name, given (torch, imported plugin modules)
    api: Callable
    dtypes: Tuple[str, ...] = ("bf16", "fp16", "fp32")
    # called after each optimizer step / decode step: Gaudi's lazy mode runs queued ops only at mark_step
    step_hook: Optional[Callable] = None
    notes: str = ""

    def is_available(self, torch, mods) -> bool:
        return bool(self.api(torch, mods).is_available())

    def synchronize(self, torch, mods) -> Callable[[], None]:
        return self.api(torch, mods).synchronize

    def device_name(self, torch, mods) -> str:
        return str(self.api(torch, mods).get_device_name(0))


class _Cpu:
    @staticmethod
    def is_available() -> bool:
        return True

    @staticmethod
    def synchronize() -> None:
        return None  # CPU ops finish before they return

    @staticmethod
    def get_device_name(_i: int = 0) -> str:
        return _cpu_name()


class _Mps:
    def __init__(self, torch):
        self.torch = torch

    def is_available(self) -> bool:
        b = getattr(self.torch.backends, "mps", None)
        return bool(b and b.is_available())

    def synchronize(self) -> None:
        self.torch.mps.synchronize()

    @staticmethod
    def get_device_name(_i: int = 0) -> str:
        return "Apple " + (platform.machine() or "silicon") + " (MPS)"


def _hpu_api(torch, mods):
    # habana_frameworks.torch.hpu has is_available/synchronize/get_device_name
    return mods["habana_frameworks.torch.hpu"]


def _hpu_mark_step(torch, mods) -> Callable[[], None]:
    return mods["habana_frameworks.torch.core"].mark_step


BACKENDS: Dict[str, Backend] = {b.name: b for b in [
    Backend("cuda", "NVIDIA; AMD ROCm, Hygon, MetaX, Iluvatar builds", (), False,
            "a CUDA or ROCm build of PyTorch (https://pytorch.org/get-started/locally/) or the vendor's build "
            "(Hygon DTK, MetaX MACA, Iluvatar CoreX)", "cuda", _torch_attr("cuda")),
    Backend("npu", "Huawei Ascend", ("torch_npu",), True,
            "torch_npu matching your torch and CANN versions: pip install torch-npu", "npu", _torch_attr("npu")),
    Backend("xpu", "Intel GPU", ("intel_extension_for_pytorch",), False,
            "torch >= 2.4 with XPU support, or intel-extension-for-pytorch: pip install intel-extension-for-pytorch",
            "xpu", _torch_attr("xpu"),
            notes="torch >= 2.4 has torch.xpu built in; older versions need IPEX"),
    Backend("hpu", "Intel Gaudi", ("habana_frameworks.torch.core", "habana_frameworks.torch.hpu"), True,
            "the Intel Gaudi software stack's PyTorch plugin (habana-torch-plugin, see docs.habana.ai)",
            "hpu", _hpu_api, step_hook=_hpu_mark_step),
    Backend("mlu", "Cambricon", ("torch_mlu",), True,
            "Cambricon's torch_mlu (from the Cambricon PyTorch release for your CNToolkit)", "mlu", _torch_attr("mlu")),
    Backend("gcu", "Enflame", ("torch_gcu",), True,
            "Enflame's torch_gcu (from the TopsRider software stack)", "gcu", _torch_attr("gcu")),
    Backend("musa", "Moore Threads", ("torch_musa",), True,
            "Moore Threads' torch_musa (pip wheel from the MUSA SDK)", "musa", _torch_attr("musa")),
    Backend("mps", "Apple", (), False, "PyTorch >= 2.0 for macOS on Apple silicon: pip install torch", "mps",
            lambda torch, mods: _Mps(torch)),
    # fp16 matmul has no CPU kernel in older torch (1.13: "addmm_impl_cpu_ not implemented for 'Half'") and no
    # fast path on most CPUs in any version; a figure from it would compare nothing.
    Backend("cpu", "CPU", (), False, "", "cpu", lambda torch, mods: _Cpu, dtypes=("bf16", "fp32")),
]}

# Preference when the suite says backend: auto. CPU last: any accelerator present is the thing to measure.
AUTO_ORDER: List[str] = ["cuda", "npu", "xpu", "hpu", "mlu", "gcu", "musa", "mps", "cpu"]


@dataclass
class Selected:
    backend: Backend
    mods: Dict[str, object] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.backend.name


def _import_plugins(b: Backend, importer: Callable[[str], object]) -> Tuple[Dict[str, object], Optional[str]]:
    """Import the backend's plugin modules; returns (modules, error text of the first failure)."""
    mods: Dict[str, object] = {}
    err = None
    for m in b.plugins:
        try:
            mods[m] = importer(m)
        except ImportError as e:  # ModuleNotFoundError included
            err = err or f"{type(e).__name__}: {e}"
        except Exception as e:  # plugins fail in other ways (a CANN library missing, ...)
            err = err or f"{type(e).__name__}: {e}"
    return mods, err


def _available(b: Backend, torch, mods) -> bool:
    try:
        return b.is_available(torch, mods)
    except Exception:
        return False


def select_backend(requested: str, torch, importer: Callable[[str], object] = importlib.import_module) -> Selected:
    """The backend to run on: the one asked for (or an error saying what to install), or with 'auto' the first
    of AUTO_ORDER whose plugin imports and that reports a device."""
    if requested == "auto":
        for name in AUTO_ORDER:
            b = BACKENDS[name]
            mods, err = _import_plugins(b, importer)
            if err and b.plugin_required:
                continue
            if _available(b, torch, mods):
                return Selected(b, mods)
        raise BackendError("NO_BACKEND", "no PyTorch backend reports a device, not even the CPU", "reinstall torch")
    if requested not in BACKENDS:
        raise BackendError("UNKNOWN_BACKEND", f"unknown backend '{requested}'", f"use one of: auto, {', '.join(BACKENDS)}")
    b = BACKENDS[requested]
    mods, err = _import_plugins(b, importer)
    if err and b.plugin_required:
        raise BackendError("BACKEND_PLUGIN_MISSING",
                           f"backend '{b.name}' ({b.vendor}) needs the Python module {b.plugins[0]}, which does not import "
                           f"({err})", f"install {b.install}")
    try:
        ok = b.is_available(torch, mods)
        why = "reports no device"
    except AttributeError as e:
        ok, why = False, f"is not built into this torch ({e})"
    except Exception as e:
        ok, why = False, f"failed its availability check ({type(e).__name__}: {e})"
    if not ok:
        raise BackendError("BACKEND_UNAVAILABLE",
                           f"backend '{b.name}' ({b.vendor}) {why} with torch {getattr(torch, '__version__', '?')}",
                           f"install {b.install}, check the driver (e.g. the vendor's smi tool lists the device), "
                           f"or choose another backend (auto picks what is present)")
    return Selected(b, mods)


DTYPE_NAMES = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}


def torch_dtype(torch, name: str):
    if name not in DTYPE_NAMES:
        raise BackendError("UNSUPPORTED_DTYPE", f"unknown dtype '{name}'", "use bf16, fp16 or fp32")
    return getattr(torch, DTYPE_NAMES[name])


def check_dtype(sel: Selected, torch, dtype: str, device) -> None:
    """Fail before any work when the backend cannot compute in dtype: first the table, then a tiny forward and
    backward through the same kinds of ops the model uses (matmul, softmax, rsqrt, silu)."""
    b = sel.backend
    if dtype not in b.dtypes:
        raise BackendError("UNSUPPORTED_DTYPE", f"dtype {dtype} is not offered on backend '{b.name}'",
                           f"use one of: {', '.join(b.dtypes)}")
    dt = torch_dtype(torch, dtype)
    try:
        x = torch.randn(8, 16, device=device, dtype=dt, requires_grad=True)
        w = torch.randn(16, 16, device=device, dtype=dt)
        y = torch.softmax(torch.nn.functional.silu(x @ w), dim=-1) * torch.rsqrt(x.float().pow(2).mean() + 1).to(dt)
        y.sum().backward()
        sel_sync = b.synchronize(torch, sel.mods)
        sel_sync()
    except Exception as e:
        raise BackendError("UNSUPPORTED_DTYPE",
                           f"dtype {dtype} does not work on backend '{b.name}' with torch {torch.__version__}: "
                           f"{type(e).__name__}: {str(e).splitlines()[0][:300] if str(e) else ''}",
                           f"use another dtype (this backend offers {', '.join(b.dtypes)}; fp32 works everywhere)")


def device_string(sel: Selected) -> str:
    """Device 0 of the backend: the harness makes the measured device the first visible one
    (CUDA_VISIBLE_DEVICES, ASCEND_RT_VISIBLE_DEVICES, ...)."""
    return sel.backend.device if sel.name in ("cpu", "mps") else f"{sel.backend.device}:0"
