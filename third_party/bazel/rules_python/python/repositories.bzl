"""Offline stand-in: instead of downloading CPython, use the project's virtual environment."""

def py_repositories():
    pass

def _local_python_impl(rctx):
    python = rctx.os.environ.get("OBSERVATORY_VENV_PYTHON", "")
    if not python:
        python = str(rctx.which("python3"))
    rctx.file("defs.bzl", 'interpreter = "@%s//:python3"\n' % rctx.name)
    rctx.file("BUILD.bazel", """
load("@bazel_tools//tools/python:toolchain.bzl", "py_runtime_pair")
exports_files(["python3"])
py_runtime(name = "py3", interpreter_path = "{python}", python_version = "PY3")
py_runtime_pair(name = "pair", py3_runtime = ":py3")
toolchain(
    name = "toolchain",
    toolchain = ":pair",
    toolchain_type = "@bazel_tools//tools/python:toolchain_type",
)
""".format(python = python))
    rctx.file("python3", "")

_local_python = repository_rule(
    implementation = _local_python_impl,
    environ = ["OBSERVATORY_VENV_PYTHON"],
)

def python_register_toolchains(name, python_version, **kwargs):
    _local_python(name = name)
    native.register_toolchains("@%s//:toolchain" % name)
