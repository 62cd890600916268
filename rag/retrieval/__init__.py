"""Retrieval: corpus statistics, hybrid search (dense + BM25, fused, spread over articles), and the
search query for a follow-up question."""
