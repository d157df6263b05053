"""The backend table and the choice among backends (workloads/torch/backends.py), with fake torch modules and a
fake importer: every row's path (plugin import, availability, synchronize, device name, Gaudi's mark_step) runs
here, on a machine that has none of these devices."""
import types
import unittest

import torch

import backends as B


class DeviceApi:
    """What torch.cuda / torch.npu / habana_frameworks.torch.hpu offer, recording calls."""

    def __init__(self, available=True, name="Fake Accelerator"):
        self.available = available
        self.name = name
        self.syncs = 0

    def is_available(self):
        return self.available

    def synchronize(self):
        self.syncs += 1

    def get_device_name(self, _i=0):
        return self.name


def fake_torch(**apis):
    """A torch stand-in: cuda unavailable and no mps unless given; extra attributes as passed."""
    t = types.SimpleNamespace(__version__="9.9-fake", backends=types.SimpleNamespace())
    t.cuda = apis.pop("cuda", DeviceApi(available=False))
    for k, v in apis.items():
        setattr(t, k, v)
    return t


def importer_for(modules, on_import=None):
    """import_module replacement: names in `modules` import (and may attach an API to torch), others fail."""
    def imp(name):
        if name not in modules:
            raise ModuleNotFoundError(f"No module named '{name}'")
        if on_import:
            on_import(name)
        return modules[name]
    return imp


def plugin_world(backend_name):
    """A fake torch plus importer in which exactly `backend_name` is installed and has a device."""
    b = B.BACKENDS[backend_name]
    api = DeviceApi(name=f"Fake {backend_name.upper()} 1")
    t = fake_torch()
    mods = {}
    if backend_name == "hpu":
        core = types.SimpleNamespace(marks=0)
        core.mark_step = lambda: setattr(core, "marks", core.marks + 1)
        mods = {"habana_frameworks.torch.core": core, "habana_frameworks.torch.hpu": api}
    elif backend_name == "mps":
        t.backends.mps = types.SimpleNamespace(is_available=lambda: True)
        t.mps = api
    elif backend_name == "cpu":
        pass
    else:
        for m in b.plugins:
            mods[m] = types.SimpleNamespace(__version__="1.2.3")

        def attach(_name):  # importing a plugin registers torch.<backend>, as torch_npu and friends do
            setattr(t, b.device, api)
        if backend_name == "cuda":
            t.cuda = api
        return t, importer_for(mods, attach), api, mods
    return t, importer_for(mods), api, mods


class TableShape(unittest.TestCase):
    def test_every_backend_of_the_issue_has_a_row(self):
        self.assertEqual(set(B.BACKENDS), {"cuda", "npu", "xpu", "hpu", "mlu", "gcu", "musa", "mps", "cpu"})
        self.assertEqual(set(B.AUTO_ORDER), set(B.BACKENDS))
        self.assertEqual(B.AUTO_ORDER[-1], "cpu")

    def test_rows_that_need_a_plugin_name_what_to_install(self):
        for b in B.BACKENDS.values():
            with self.subTest(backend=b.name):
                if b.plugin_required:
                    self.assertTrue(b.plugins)
                    self.assertTrue(b.install)
                self.assertTrue(set(b.dtypes) <= {"bf16", "fp16", "fp32"})


class ExplicitChoice(unittest.TestCase):
    def test_each_row_selects_synchronizes_and_names_its_device(self):
        for name in B.BACKENDS:
            with self.subTest(backend=name):
                t, imp, api, _mods = plugin_world(name)
                sel = B.select_backend(name, t, imp)
                self.assertEqual(sel.name, name)
                sync = sel.backend.synchronize(t, sel.mods)
                sync()
                if name != "cpu":
                    self.assertEqual(api.syncs, 1, "synchronize must reach the backend's own API")
                    self.assertTrue(sel.backend.device_name(t, sel.mods).startswith(("Fake", "Apple")))
                self.assertEqual(B.device_string(sel), {"cpu": "cpu", "mps": "mps"}.get(name, f"{name}:0"))

    def test_gaudi_flushes_lazy_mode_with_mark_step(self):
        t, imp, _api, mods = plugin_world("hpu")
        sel = B.select_backend("hpu", t, imp)
        hook = sel.backend.step_hook(t, sel.mods)
        hook()
        hook()
        self.assertEqual(mods["habana_frameworks.torch.core"].marks, 2)
        self.assertIsNone(B.BACKENDS["cuda"].step_hook)

    def test_missing_plugin_names_the_package(self):
        cases = {"npu": ("torch_npu", "pip install torch-npu"), "mlu": ("torch_mlu", "torch_mlu"),
                 "musa": ("torch_musa", "torch_musa"), "gcu": ("torch_gcu", "torch_gcu"),
                 "hpu": ("habana_frameworks", "habana")}
        for name, (module, install) in cases.items():
            with self.subTest(backend=name):
                with self.assertRaises(B.BackendError) as cm:
                    B.select_backend(name, fake_torch(), importer_for({}))
                self.assertEqual(cm.exception.code, "BACKEND_PLUGIN_MISSING")
                self.assertIn(module, cm.exception.message)
                self.assertIn(install, cm.exception.remedy)

    def test_cuda_build_without_a_device(self):
        with self.assertRaises(B.BackendError) as cm:
            B.select_backend("cuda", fake_torch(), importer_for({}))
        self.assertEqual(cm.exception.code, "BACKEND_UNAVAILABLE")
        self.assertIn("reports no device", cm.exception.message)

    def test_xpu_native_in_new_torch_needs_no_ipex(self):
        t = fake_torch(xpu=DeviceApi())
        sel = B.select_backend("xpu", t, importer_for({}))
        self.assertEqual(sel.name, "xpu")
        self.assertEqual(sel.mods, {})

    def test_xpu_absent_says_it_is_not_built_in(self):
        with self.assertRaises(B.BackendError) as cm:
            B.select_backend("xpu", fake_torch(), importer_for({}))
        self.assertIn("not built into this torch", cm.exception.message)
        self.assertIn("intel-extension-for-pytorch", cm.exception.remedy)

    def test_a_plugin_that_does_not_attach_to_torch_is_used_directly(self):
        api = DeviceApi(name="Enflame S60")
        sel = B.select_backend("gcu", fake_torch(), importer_for({"torch_gcu": api}))
        sel.backend.synchronize(fake_torch(), sel.mods)()
        self.assertEqual(api.syncs, 1)
        self.assertEqual(sel.backend.device_name(fake_torch(), sel.mods), "Enflame S60")

    def test_a_plugin_that_crashes_on_import_is_reported_not_raised(self):
        def imp(name):
            raise OSError("libascendcl.so: cannot open shared object file")
        with self.assertRaises(B.BackendError) as cm:
            B.select_backend("npu", fake_torch(), imp)
        self.assertIn("libascendcl.so", cm.exception.message)

    def test_unknown_backend(self):
        with self.assertRaises(B.BackendError) as cm:
            B.select_backend("tpu", fake_torch(), importer_for({}))
        self.assertEqual(cm.exception.code, "UNKNOWN_BACKEND")


class AutoChoice(unittest.TestCase):
    def test_cuda_first(self):
        t = fake_torch(cuda=DeviceApi(name="NVIDIA H100 80GB HBM3"))
        self.assertEqual(B.select_backend("auto", t, importer_for({})).name, "cuda")

    def test_npu_when_torch_npu_is_installed_and_has_a_device(self):
        t, imp, _api, _m = plugin_world("npu")
        self.assertEqual(B.select_backend("auto", t, imp).name, "npu")

    def test_installed_plugin_without_device_is_skipped(self):
        t = fake_torch()
        api = DeviceApi(available=False)
        imp = importer_for({"torch_npu": types.SimpleNamespace()}, lambda _n: setattr(t, "npu", api))
        self.assertEqual(B.select_backend("auto", t, imp).name, "cpu")

    def test_cpu_when_nothing_else(self):
        self.assertEqual(B.select_backend("auto", fake_torch(), importer_for({})).name, "cpu")

    def test_real_torch_here_auto_is_a_backend_that_works(self):
        sel = B.select_backend("auto", torch)
        self.assertIn(sel.name, B.BACKENDS)


class Dtypes(unittest.TestCase):
    def test_cpu_fp16_is_refused_by_the_table(self):
        sel = B.select_backend("cpu", torch)
        with self.assertRaises(B.BackendError) as cm:
            B.check_dtype(sel, torch, "fp16", torch.device("cpu"))
        self.assertEqual(cm.exception.code, "UNSUPPORTED_DTYPE")
        self.assertIn("fp32", cm.exception.remedy)

    def test_cpu_fp32_and_bf16_pass_the_trial_computation(self):
        sel = B.select_backend("cpu", torch)
        B.check_dtype(sel, torch, "fp32", torch.device("cpu"))
        B.check_dtype(sel, torch, "bf16", torch.device("cpu"))

    def test_a_dtype_the_device_fails_on_is_reported_with_the_error(self):
        # a backend row that claims fp16 on the CPU: the trial computation finds out (torch 1.13 has no CPU
        # fp16 matmul; newer torch may, in which case the check rightly passes)
        row = B.Backend("cpu", "CPU", (), False, "", "cpu", lambda t, m: B._Cpu, dtypes=("fp16",))
        sel = B.Selected(row, {})
        try:
            (torch.ones(2, 2, dtype=torch.float16) @ torch.ones(2, 2, dtype=torch.float16)).sum()
            cpu_has_fp16 = True
        except RuntimeError:
            cpu_has_fp16 = False
        if cpu_has_fp16:
            B.check_dtype(sel, torch, "fp16", torch.device("cpu"))
        else:
            with self.assertRaises(B.BackendError) as cm:
                B.check_dtype(sel, torch, "fp16", torch.device("cpu"))
            self.assertIn("does not work on backend 'cpu'", cm.exception.message)

    def test_unknown_dtype(self):
        with self.assertRaises(B.BackendError):
            B.torch_dtype(torch, "fp8")


if __name__ == "__main__":
    unittest.main()
