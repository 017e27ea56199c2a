"""What ships and agents can do: each function checks the game's rules, changes the state and
returns the response's `data`, or raises the `ApiError` the official API answers with."""

__all__: list[str] = []
