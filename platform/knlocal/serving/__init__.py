"""Knative Serving, local: the KPA autoscaler port (``kpa``, pure) and the I/O parts that apply it."""
