"""Job handlers: one module per job type, named like the type's payload schema (``-`` becomes ``_``).

Each module exposes ``TIMEOUT_S`` (seconds before the job ends FAILED with reason ``timeout``) and
``run(payload) -> dict``: a coroutine function, or a plain function for CPU-bound work, which the
processor runs in a thread so the event loop keeps serving. A handler raises
``functions.processor.errors.JobFailure`` to fail. The payload it receives has already been validated
against ``contracts/schemas/payloads/<type>.json``.
"""
