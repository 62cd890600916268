"""Measuring the product: the gold-set evaluation and the news-QA benchmark.

- `gold`: the gold set, checking and scoring each answer, `evaluate`;
- `judges`: the optional LLM judges (llama-index faithfulness and correctness);
- `report`: an evaluation as a console table, markdown, HTML and a chart;
- `bench`: the benchmark against plain llama-index and BM25 baselines;
- `stats`: the small statistics and number formatting they share;
- `cli`: `python -m rag eval` and `python -m rag bench`.
"""
