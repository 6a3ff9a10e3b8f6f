"""Generated gRPC/protobuf stubs for the SAGE Mesh contracts. Do not edit:
run `python scripts/gen_protos.py`."""
