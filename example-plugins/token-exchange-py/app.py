"""The component's entry point: the ``wasi:cli/run`` export answering with ``provide``."""

import credential_provider_sdk as sdk

from token_exchange import provide

Run = sdk.run(provide)
