"""Generated protobuf modules for the wire contract in proto/flotilla/v1 (run `make proto`)."""
