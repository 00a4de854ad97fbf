"""The exceptions loopml raises; each message says what is wrong and how to fix it."""


class LoopmlError(Exception):
    """Base of every loopml error."""


class ConfigError(LoopmlError):
    """Settings or workspace are invalid."""


class ValidationError(LoopmlError, ValueError):
    """An argument is malformed; nothing was written."""


class NotFoundError(LoopmlError, LookupError):
    """A named object does not exist."""


class ConflictError(LoopmlError):
    """The change contradicts what is already stored (e.g. a param logged twice)."""


class ArtifactCorruptedError(LoopmlError):
    """A stored blob no longer matches its content hash."""


class PermissionDeniedError(LoopmlError, PermissionError):
    """The acting principal's role does not allow the change."""


class AuditChainError(LoopmlError):
    """The audit trail was visibly cut or is broken: a change that would extend it is
    refused, and so is re-keying it (`loopml audit verify` says where)."""


class PolicyViolationError(PermissionDeniedError):
    """A change breaks a rule an admin set (e.g. the traffic policy of deployments): it is
    refused whoever asks; an admin may override it, with a reason that is audited."""
