// The canonical encoding and the signed records (keys, statements, endorsements) are shared
// with the enclave; ledger users get them with `import Ledger`.
@_exported import Canonical
@_exported import Records
