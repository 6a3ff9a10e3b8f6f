"""The TSDB service: time series on the native core (sage_native.TimeSeriesDB) over gRPC."""
