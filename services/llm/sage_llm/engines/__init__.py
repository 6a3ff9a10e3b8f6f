"""Inference engines behind one async interface (:class:`sage_llm.engines.base.Engine`)."""
