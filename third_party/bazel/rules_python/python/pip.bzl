"""Offline stand-in for pip_parse: third-party packages come from the virtual environment's interpreter.
Each pinned name in the lock file becomes an empty library, so requirement() labels resolve as online."""

def _normalize(name):
    return name.lower().replace("-", "_").replace(".", "_")

def _pip_parse_impl(rctx):
    names = []
    for line in rctx.read(rctx.attr.requirements_lock).splitlines():
        if "==" in line and not line.startswith(("#", " ", "-")):
            names.append(_normalize(line.split("==")[0].strip()))
    rctx.file("requirements.bzl", """
def requirement(name):
    return "@{repo}//:" + name.lower().replace("-", "_").replace(".", "_")

def install_deps(**kwargs):
    pass
""".format(repo = rctx.name))
    rctx.file("BUILD.bazel", "\n".join([
        'py_library(name = "%s", srcs = [], visibility = ["//visibility:public"])' % n
        for n in names
    ]) + "\n")

pip_parse = repository_rule(
    implementation = _pip_parse_impl,
    attrs = {
        "requirements_lock": attr.label(allow_single_file = True),
        "python_interpreter_target": attr.label(),
    },
)
