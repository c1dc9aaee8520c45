"""Payworks PayServer P3 cases: ids ``p3/<section>/<n>`` after payworks-p3.md sections."""
