"""A port of Knative Serving's KPA: pure decision code with the clock passed in.

``config`` builds a ``DeciderSpec`` from config-autoscaler defaults and revision annotations,
``buckets`` averages the metric over the stable and panic windows, ``decider`` turns averages into a
desired pod count (``autoscaler.Scale``), ``scaler`` applies bounds and scale-to-zero gating
(``kpa/scaler.go`` + ``kpa.go``). Nothing here does I/O or reads the clock.
"""
