"""Bridges to other libraries, each an optional extra imported only when used:

    clipvis.integrations.supervision   to/from `supervision.Detections` (pip install clipvis[supervision])
"""
