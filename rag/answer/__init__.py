"""Answering: deciding whether the passages support an answer, composing an extractive answer or
checking a generated one, and the citations that tie each claim to its passage."""
