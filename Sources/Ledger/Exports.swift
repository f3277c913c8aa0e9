// The canonical encoding is shared with Protection; ledger users get it with `import Ledger`.
@_exported import Canonical
