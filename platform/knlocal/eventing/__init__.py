"""Knative Eventing with RabbitMQ-broker semantics: pure naming, filters and delivery policy, plus I/O parts."""
