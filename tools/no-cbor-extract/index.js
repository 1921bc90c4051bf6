// cbor-x requires this in a try/catch and falls back to its JS decoder.
throw new Error('cbor-extract is disabled in Ferry (see package.json description)')
