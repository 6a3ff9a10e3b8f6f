"""The DataStream API: builds a logical graph, runs nothing."""
