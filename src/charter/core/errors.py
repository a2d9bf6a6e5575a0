"""Domain errors with stable snake_case codes, and the one catalogue of those codes.

Every error Charter raises on purpose is a `CharterError`. Entrypoints map `kind` to an HTTP status
(api/gateway) or an exit code (cli) in exactly one place each.

`ErrorCode` names every code Charter sends (problem+json `code`, the CLI's `error: CODE`, gateway refusal reasons);
`CATALOGUE` gives each its kind, HTTP status and title. Code outside this module refers to `ErrorCode` members,
never to the strings (tests/unit/core/test_error_catalogue.py checks both, and that docs/errors.md lists every code).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class ErrorKind(StrEnum):
    INVALID = "invalid"  # 400/422, exit 2
    UNAUTHENTICATED = "unauthenticated"  # 401, exit 4
    FORBIDDEN = "forbidden"  # 403, exit 4
    NOT_FOUND = "not_found"  # 404, exit 3
    CONFLICT = "conflict"  # 409, exit 1
    TOO_LARGE = "too_large"  # 413, exit 2
    RATE_LIMITED = "rate_limited"  # 429, exit 1
    UNAVAILABLE = "unavailable"  # 503, exit 5
    FAILED = "failed"  # 422 verdict-type failure, exit 1


STATUS: dict[ErrorKind, int] = {
    ErrorKind.INVALID: 422,
    ErrorKind.UNAUTHENTICATED: 401,
    ErrorKind.FORBIDDEN: 403,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.CONFLICT: 409,
    ErrorKind.TOO_LARGE: 413,
    ErrorKind.RATE_LIMITED: 429,
    ErrorKind.UNAVAILABLE: 503,
    ErrorKind.FAILED: 422,
}


class ErrorCode(StrEnum):
    """Every stable error code; the wire carries the value. Add a code here, in `CATALOGUE` and in docs/errors.md."""

    ALG_NOT_ALLOWED = "alg_not_allowed"
    AMBIGUOUS_REQUEST = "ambiguous_request"
    API_KEY_EXPIRED = "api_key_expired"
    API_KEY_REVOKED = "api_key_revoked"
    APP_CANNOT_CREATE_KEYS = "app_cannot_create_keys"
    APP_KEY = "app_key"
    APPROVAL_DECIDED = "approval_decided"
    APPROVAL_NOT_FOUND = "approval_not_found"
    APPROVAL_REFUSED = "approval_refused"
    APPROVAL_REQUIRED = "approval_required"
    APPROVER_REQUIRED = "approver_required"
    ARGUMENTS_TOO_LARGE = "arguments_too_large"
    ARTIFACT_DIGEST_MISMATCH = "artifact_digest_mismatch"
    ASSESSMENT_NOT_FOUND = "assessment_not_found"
    AUDIT_ENTRY_NOT_FOUND = "audit_entry_not_found"
    AUDIT_EVENT_INVALID = "audit_event_invalid"
    AUDIT_HEAD_MISSING = "audit_head_missing"
    AUDIT_LOG_DAMAGED = "audit_log_damaged"
    AUDIT_TASK_CLOSED = "audit_task_closed"
    AUDIT_TASK_NOT_FOUND = "audit_task_not_found"
    AUDIT_UNAVAILABLE = "audit_unavailable"
    BAD_CHECKPOINT = "bad_checkpoint"
    BAD_KEY_NAME = "bad_key_name"
    BAD_ORIGIN = "bad_origin"
    BAD_REQUEST = "bad_request"
    BAD_SIGNATURE = "bad_signature"
    BAD_TREE_SIZES = "bad_tree_sizes"
    BAD_VERIFIER_KEY = "bad_verifier_key"
    BAD_WITNESS_KEY = "bad_witness_key"
    BODY_REQUIRED = "body_required"
    BUILTIN_POLICY = "builtin_policy"
    CALLER_NOT_IN_SCOPE = "caller_not_in_scope"
    CANNOT_DISABLE_SELF = "cannot_disable_self"
    CANNOT_LISTEN = "cannot_listen"
    CAPTURE_DISABLED = "capture_disabled"
    CARD_TOO_LARGE = "card_too_large"
    CEL_INVALID = "cel_invalid"
    CHECKPOINT_REFUSED = "checkpoint_refused"
    COLUMN_NOT_FOUND = "column_not_found"
    CONFLICT = "conflict"
    CONTROL_CATALOGS_INVALID = "control_catalogs_invalid"
    CONTROL_CATALOGS_MISSING = "control_catalogs_missing"
    COUNT_OVERFLOW = "count_overflow"
    CSRF_FAILED = "csrf_failed"
    DATA_DIR_UNREADABLE = "data_dir_unreadable"
    DATASET_EXISTS = "dataset_exists"
    DATASET_NOT_FOUND = "dataset_not_found"
    DEMO_NOT_LOADED = "demo_not_loaded"
    DEPLOYMENT_EXISTS = "deployment_exists"
    DEPLOYMENT_NOT_FOUND = "deployment_not_found"
    DEPLOYMENT_NOT_NAMED = "deployment_not_named"
    DIGEST_MISMATCH = "digest_mismatch"
    DIRECTORY_NOT_FOUND = "directory_not_found"
    DUPLICATE_IDS = "duplicate_ids"
    EMPTY_ARTIFACT = "empty_artifact"
    EVALUATION_NOT_FOUND = "evaluation_not_found"
    EVIDENCE_EMPTY = "evidence_empty"
    EVIDENCE_INVALID = "evidence_invalid"
    EXPIRED = "expired"
    FEATURE_COUNT_MISMATCH = "feature_count_mismatch"
    FETCH_FAILED = "fetch_failed"
    FILE_EXISTS = "file_exists"
    FILE_NOT_FOUND = "file_not_found"
    FILE_UNREADABLE = "file_unreadable"
    FILE_UNWRITABLE = "file_unwritable"
    FORBIDDEN = "forbidden"
    GENAI_REPORT_INVALID = "genai_report_invalid"
    HEADER_MISMATCH = "header_mismatch"
    HEADERS_TOO_LARGE = "headers_too_large"
    HTTP_ERROR = "http_error"
    INCIDENT_CLOSED = "incident_closed"
    INCIDENT_NOT_FOUND = "incident_not_found"
    INPUT_DIGEST_REQUIRED = "input_digest_required"
    INTERNAL_ERROR = "internal_error"
    INVALID_ANSWERS = "invalid_answers"
    INVALID_API_KEY = "invalid_api_key"
    INVALID_ARGUMENTS = "invalid_arguments"
    INVALID_COLUMNS = "invalid_columns"
    INVALID_CONDITION = "invalid_condition"
    INVALID_CREDENTIALS = "invalid_credentials"
    INVALID_DATA = "invalid_data"
    INVALID_ENCODING = "invalid_encoding"
    INVALID_EXPORT = "invalid_export"
    INVALID_FEATURE = "invalid_feature"
    INVALID_FILE = "invalid_file"
    INVALID_INPUT = "invalid_input"
    INVALID_JWKS = "invalid_jwks"
    INVALID_KEY = "invalid_key"
    INVALID_LICENSE = "invalid_license"
    INVALID_OPTION = "invalid_option"
    INVALID_PROFILE = "invalid_profile"
    INVALID_REF = "invalid_ref"
    INVALID_REQUEST = "invalid_request"
    INVALID_RESOURCE_URI = "invalid_resource_uri"
    INVALID_REVIEW = "invalid_review"
    INVALID_SETTING = "invalid_setting"
    INVALID_SKETCH = "invalid_sketch"
    INVALID_TOOL_NAME = "invalid_tool_name"
    INVALID_VALUE = "invalid_value"
    INVALID_WINDOW = "invalid_window"
    KEY_LIFETIME_TOO_LONG = "key_lifetime_too_long"
    KEY_NOT_FOUND = "key_not_found"
    KEY_UNAVAILABLE = "key_unavailable"
    KEYS_FILE_INVALID = "keys_file_invalid"
    KEYS_INVALID = "keys_invalid"
    KEYS_MISMATCH = "keys_mismatch"
    KEYS_MISSING = "keys_missing"
    LAST_ADMIN = "last_admin"
    LICENSE_CONFLICT = "license_conflict"
    LICENSE_EXPIRED = "license_expired"
    LICENSE_INVALID_TRANSITION = "license_invalid_transition"
    LICENSE_NOT_ACTIVE = "license_not_active"
    LICENSE_NOT_AWAITING_SIGNOFF = "license_not_awaiting_signoff"
    LICENSE_NOT_FOUND = "license_not_found"
    LICENSE_NOT_RENEWABLE = "license_not_renewable"
    LICENSE_NOT_YET_VALID = "license_not_yet_valid"
    LICENSE_REQUIREMENTS_UNMET = "license_requirements_unmet"
    LICENSE_REVOKED = "license_revoked"
    LICENSE_SCOPE_MISMATCH = "license_scope_mismatch"
    LICENSE_STATUS_UNAVAILABLE = "license_status_unavailable"
    LICENSE_SUSPENDED = "license_suspended"
    LINEAGE_CYCLE = "lineage_cycle"
    LINEAGE_EXISTS = "lineage_exists"
    MALFORMED = "malformed"
    MALFORMED_CARD = "malformed_card"
    MALFORMED_DATASET = "malformed_dataset"
    MALFORMED_YAML = "malformed_yaml"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    MISSING_API_KEY = "missing_api_key"
    MISSING_CLAIM = "missing_claim"
    MISSING_COLUMN = "missing_column"
    MISSING_EXTRA = "missing_extra"
    ML_EXTRA_MISSING = "ml_extra_missing"
    MLFLOW_ARTIFACT_ERROR = "mlflow_artifact_error"
    MLFLOW_NOT_INSTALLED = "mlflow_not_installed"
    MLFLOW_REGISTRY_ERROR = "mlflow_registry_error"
    MODEL_FAILED = "model_failed"
    MODEL_NOT_FOUND = "model_not_found"
    MODEL_RETIRED = "model_retired"
    MODEL_UNREADABLE = "model_unreadable"
    MODEL_UNSAFE = "model_unsafe"
    MODEL_VERSION_EXISTS = "model_version_exists"
    MODEL_VERSION_LOCKED = "model_version_locked"
    MODEL_VERSION_NOT_FOUND = "model_version_not_found"
    NO_CASES = "no_cases"
    NO_CHECKPOINT = "no_checkpoint"
    NO_LABEL = "no_label"
    NO_LICENSE = "no_license"
    NO_PREVIOUS_VERSION = "no_previous_version"
    NO_VERIFIER_KEY = "no_verifier_key"
    NOT_A_MODEL = "not_a_model"
    NOT_FOUND = "not_found"
    NOT_INITIALISED = "not_initialised"
    NOT_YET_VALID = "not_yet_valid"
    NOTHING_TO_EVALUATE = "nothing_to_evaluate"
    NOTHING_TO_VERIFY = "nothing_to_verify"
    NUL_CHARACTER = "nul_character"
    OIDC_CODE_REFUSED = "oidc_code_refused"
    OIDC_DISCOVERY_FAILED = "oidc_discovery_failed"
    OIDC_ID_TOKEN_INVALID = "oidc_id_token_invalid"
    OIDC_LINKED_ELSEWHERE = "oidc_linked_elsewhere"
    OIDC_NO_CODE = "oidc_no_code"
    OIDC_NO_FLOW = "oidc_no_flow"
    OIDC_NO_ID_TOKEN = "oidc_no_id_token"
    OIDC_NO_ROLE = "oidc_no_role"
    OIDC_PROVIDER_REFUSED = "oidc_provider_refused"
    OIDC_RETRY = "oidc_retry"
    OIDC_STATE_MISMATCH = "oidc_state_mismatch"
    OIDC_TOKEN_FAILED = "oidc_token_failed"
    OIDC_USERINFO_FAILED = "oidc_userinfo_failed"
    OIDC_USERINFO_MISMATCH = "oidc_userinfo_mismatch"
    OIDC_ISSUER_MISMATCH = "oidc_issuer_mismatch"
    OIDC_WRONG_ISSUER = "oidc_wrong_issuer"
    OPENAI_ROUTE_REQUIRED = "openai_route_required"
    PACK_MALFORMED = "pack_malformed"
    PACK_UNSAFE = "pack_unsafe"
    PASSPHRASE_REQUIRED = "passphrase_required"
    PATH_NOT_ALLOWED = "path_not_allowed"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    PDF_RENDER_FAILED = "pdf_render_failed"
    PDF_RENDERER_UNAVAILABLE = "pdf_renderer_unavailable"
    PERMISSION_DENIED = "permission_denied"
    POLICY_CONFLICT = "policy_conflict"
    POLICY_INVALID = "policy_invalid"
    POLICY_NOT_FOUND = "policy_not_found"
    PORT_IN_USE = "port_in_use"
    PRINCIPAL_DISABLED = "principal_disabled"
    PRINCIPAL_EXISTS = "principal_exists"
    PRINCIPAL_NOT_FOUND = "principal_not_found"
    PRODUCTION_CHANGE_REQUIRES_SENIOR = "production_change_requires_senior"
    PROFILE_MISMATCH = "profile_mismatch"
    PROFILE_MODEL_MISMATCH = "profile_model_mismatch"
    PROFILE_NOT_FOUND = "profile_not_found"
    PROFILE_TOO_LARGE = "profile_too_large"
    PURPOSE_NOT_IN_SCOPE = "purpose_not_in_scope"
    PURPOSE_RESTRICTED = "purpose_restricted"
    RAGGED_COLUMNS = "ragged_columns"
    RATE_LIMITED = "rate_limited"
    REFERENCE_DATA_REQUIRED = "reference_data_required"
    REQUEST_TIMEOUT = "request_timeout"
    ROLE_EXISTS = "role_exists"
    ROLE_NOT_FOUND = "role_not_found"
    SERVER_UNREACHABLE = "server_unreachable"
    SESSION_NOT_YOURS = "session_not_yours"
    SESSION_REQUIRED = "session_required"
    SIGNATURE_MISMATCH = "signature_mismatch"
    SIGNING_UNAVAILABLE = "signing_unavailable"
    SIGNOFF_ALREADY_GIVEN = "signoff_already_given"
    SIGNOFF_BY_REQUESTER = "signoff_by_requester"
    SIGNOFF_CONFLICT = "signoff_conflict"
    SIGNOFF_NOT_REQUIRED = "signoff_not_required"
    SIGNOFF_SAME_PERSON = "signoff_same_person"
    SIZE_MISMATCH = "size_mismatch"
    STATUS_LIST_INVALID = "status_list_invalid"
    STATUS_LIST_ROLLBACK = "status_list_rollback"
    STATUS_LIST_STALE = "status_list_stale"
    SYSTEM_EXISTS = "system_exists"
    SYSTEM_NOT_FOUND = "system_not_found"
    SYSTEM_PROHIBITED = "system_prohibited"
    TEAM_EXISTS = "team_exists"
    TEAM_NOT_FOUND = "team_not_found"
    TIER_NOT_LICENSABLE = "tier_not_licensable"
    TOO_MANY_FILES = "too_many_files"
    TOOL_CONDITION_FAILED = "tool_condition_failed"
    TOOL_NOT_IN_SCOPE = "tool_not_in_scope"
    UNAUTHENTICATED = "unauthenticated"
    UNAVAILABLE = "unavailable"
    UNKNOWN_ATTRIBUTE = "unknown_attribute"
    UNKNOWN_CONTROL = "unknown_control"
    UNKNOWN_FORMAT = "unknown_format"
    UNKNOWN_FRAMEWORK = "unknown_framework"
    UNKNOWN_KEY = "unknown_key"
    UNKNOWN_METRIC = "unknown_metric"
    UNKNOWN_RISK_TIER = "unknown_risk_tier"
    UNKNOWN_SESSION = "unknown_session"
    UNREADABLE_FILE = "unreadable_file"
    UNSUPPORTED_FILE = "unsupported_file"
    UNSUPPORTED_FILE_TYPE = "unsupported_file_type"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    UNSUPPORTED_MODEL_FORMAT = "unsupported_model_format"
    UNSUPPORTED_MODEL_INPUT = "unsupported_model_input"
    UNSUPPORTED_MODEL_OUTPUT = "unsupported_model_output"
    UNSUPPORTED_SCHEMA_VERSION = "unsupported_schema_version"
    UPSTREAM_NOT_ALLOWED = "upstream_not_allowed"
    UPSTREAM_ANSWER_TOO_LARGE = "upstream_answer_too_large"
    UPSTREAM_REDIRECT = "upstream_redirect"
    UPSTREAM_RESPONSE_UNREADABLE = "upstream_response_unreadable"
    UPSTREAM_UNAVAILABLE = "upstream_unavailable"
    USAGE = "usage"
    VALIDATION_FAILED = "validation_failed"
    VALIDITY_INVALID = "validity_invalid"
    VALIDITY_TOO_LONG = "validity_too_long"
    VERIFICATION_FAILED = "verification_failed"
    WINDOW_IN_FUTURE = "window_in_future"
    WINDOW_MISALIGNED = "window_misaligned"
    WINDOW_NOT_FOUND = "window_not_found"
    WRONG_COLUMN_TYPE = "wrong_column_type"
    WRONG_LICENSE = "wrong_license"
    WRONG_TYPE = "wrong_type"


@dataclass(frozen=True, slots=True)
class ErrorSpec:
    """What a code means: its kind, the HTTP status it is sent with (None: the CLI's own, never sent by a server)
    and the problem+json title the gateway gives it."""

    kind: ErrorKind
    status: int | None
    title: str


@dataclass(frozen=True, slots=True)
class _Entry:
    kind: ErrorKind
    status: int | None
    title: str | None
    cli: bool


def _spec(kind: ErrorKind, *, status: int | None = None, title: str | None = None, cli: bool = False) -> _Entry:
    return _Entry(kind, status, title, cli)


E = ErrorCode
K = ErrorKind
_ENTRIES: dict[ErrorCode, _Entry] = {
    E.ALG_NOT_ALLOWED: _spec(K.FAILED),
    E.AMBIGUOUS_REQUEST: _spec(K.INVALID, title="Ambiguous request body"),
    E.API_KEY_EXPIRED: _spec(K.UNAUTHENTICATED),
    E.API_KEY_REVOKED: _spec(K.UNAUTHENTICATED),
    E.APP_CANNOT_CREATE_KEYS: _spec(K.FORBIDDEN),
    E.APP_KEY: _spec(K.UNAUTHENTICATED),
    E.APPROVAL_DECIDED: _spec(K.CONFLICT),
    E.APPROVAL_NOT_FOUND: _spec(K.NOT_FOUND),
    E.APPROVAL_REFUSED: _spec(K.FORBIDDEN),
    E.APPROVAL_REQUIRED: _spec(K.FORBIDDEN),
    E.APPROVER_REQUIRED: _spec(K.FORBIDDEN),
    E.ARGUMENTS_TOO_LARGE: _spec(K.INVALID, status=400),
    E.ARTIFACT_DIGEST_MISMATCH: _spec(K.INVALID),
    E.ASSESSMENT_NOT_FOUND: _spec(K.NOT_FOUND),
    E.AUDIT_ENTRY_NOT_FOUND: _spec(K.NOT_FOUND),
    E.AUDIT_EVENT_INVALID: _spec(K.INVALID),
    E.AUDIT_HEAD_MISSING: _spec(K.UNAVAILABLE),
    E.AUDIT_LOG_DAMAGED: _spec(K.FAILED),
    E.AUDIT_TASK_CLOSED: _spec(K.CONFLICT),
    E.AUDIT_TASK_NOT_FOUND: _spec(K.NOT_FOUND),
    E.AUDIT_UNAVAILABLE: _spec(K.UNAVAILABLE, title="Audit log unavailable"),
    E.BAD_CHECKPOINT: _spec(K.FAILED),
    E.BAD_KEY_NAME: _spec(K.FAILED),
    E.BAD_ORIGIN: _spec(K.FAILED),
    E.BAD_REQUEST: _spec(K.INVALID, status=400),
    E.BAD_SIGNATURE: _spec(K.FAILED),
    E.BAD_TREE_SIZES: _spec(K.INVALID),
    E.BAD_VERIFIER_KEY: _spec(K.FAILED),
    E.BAD_WITNESS_KEY: _spec(K.FAILED),
    E.BODY_REQUIRED: _spec(K.INVALID, status=400),
    E.BUILTIN_POLICY: _spec(K.CONFLICT),
    E.CALLER_NOT_IN_SCOPE: _spec(K.FORBIDDEN, title="Caller not in license scope"),
    E.CANNOT_DISABLE_SELF: _spec(K.CONFLICT),
    E.CANNOT_LISTEN: _spec(K.INVALID, cli=True),
    E.CAPTURE_DISABLED: _spec(K.CONFLICT),
    E.CARD_TOO_LARGE: _spec(K.INVALID),
    E.CEL_INVALID: _spec(K.INVALID),
    E.CHECKPOINT_REFUSED: _spec(K.FAILED),
    E.COLUMN_NOT_FOUND: _spec(K.INVALID, cli=True),
    E.CONFLICT: _spec(K.CONFLICT),
    E.CONTROL_CATALOGS_INVALID: _spec(K.INVALID),
    E.CONTROL_CATALOGS_MISSING: _spec(K.UNAVAILABLE),
    E.COUNT_OVERFLOW: _spec(K.INVALID),
    E.CSRF_FAILED: _spec(K.FORBIDDEN),
    E.DATA_DIR_UNREADABLE: _spec(K.INVALID, cli=True),
    E.DATASET_EXISTS: _spec(K.CONFLICT),
    E.DATASET_NOT_FOUND: _spec(K.NOT_FOUND),
    E.DEMO_NOT_LOADED: _spec(K.NOT_FOUND, cli=True),
    E.DEPLOYMENT_EXISTS: _spec(K.CONFLICT),
    E.DEPLOYMENT_NOT_FOUND: _spec(K.NOT_FOUND, title="Unknown deployment"),
    E.DEPLOYMENT_NOT_NAMED: _spec(K.INVALID, status=400),
    E.DIGEST_MISMATCH: _spec(K.INVALID),
    E.DIRECTORY_NOT_FOUND: _spec(K.INVALID, cli=True),
    E.DUPLICATE_IDS: _spec(K.INVALID),
    E.EMPTY_ARTIFACT: _spec(K.INVALID),
    E.EVALUATION_NOT_FOUND: _spec(K.NOT_FOUND),
    E.EVIDENCE_EMPTY: _spec(K.INVALID),
    E.EVIDENCE_INVALID: _spec(K.INVALID),
    E.EXPIRED: _spec(K.FAILED),
    E.FEATURE_COUNT_MISMATCH: _spec(K.INVALID, cli=True),
    E.FETCH_FAILED: _spec(K.UNAVAILABLE, cli=True),
    E.FILE_EXISTS: _spec(K.CONFLICT),
    E.FILE_NOT_FOUND: _spec(K.INVALID),
    E.FILE_UNREADABLE: _spec(K.INVALID),
    E.FILE_UNWRITABLE: _spec(K.INVALID),
    E.FORBIDDEN: _spec(K.FORBIDDEN),
    E.GENAI_REPORT_INVALID: _spec(K.INVALID, cli=True),
    E.HEADER_MISMATCH: _spec(K.INVALID, status=400),
    E.HEADERS_TOO_LARGE: _spec(K.TOO_LARGE, status=431),
    E.HTTP_ERROR: _spec(K.INVALID, status=400),
    E.INCIDENT_CLOSED: _spec(K.CONFLICT),
    E.INCIDENT_NOT_FOUND: _spec(K.NOT_FOUND),
    E.INPUT_DIGEST_REQUIRED: _spec(K.INVALID),
    E.INTERNAL_ERROR: _spec(K.UNAVAILABLE, status=500),
    E.INVALID_ANSWERS: _spec(K.INVALID),
    E.INVALID_API_KEY: _spec(K.UNAUTHENTICATED),
    E.INVALID_ARGUMENTS: _spec(K.INVALID, status=400),
    E.INVALID_COLUMNS: _spec(K.INVALID, cli=True),
    E.INVALID_CONDITION: _spec(K.INVALID),
    E.INVALID_CREDENTIALS: _spec(K.UNAUTHENTICATED),
    E.INVALID_DATA: _spec(K.INVALID, cli=True),
    E.INVALID_ENCODING: _spec(K.INVALID),
    E.INVALID_EXPORT: _spec(K.INVALID, cli=True),
    E.INVALID_FEATURE: _spec(K.INVALID, cli=True),
    E.INVALID_FILE: _spec(K.INVALID),
    E.INVALID_INPUT: _spec(K.INVALID),
    E.INVALID_JWKS: _spec(K.FAILED),
    E.INVALID_KEY: _spec(K.INVALID, cli=True),
    E.INVALID_LICENSE: _spec(K.INVALID),
    E.INVALID_OPTION: _spec(K.INVALID, cli=True),
    E.INVALID_PROFILE: _spec(K.INVALID),
    E.INVALID_REF: _spec(K.INVALID, cli=True),
    E.INVALID_REQUEST: _spec(K.INVALID),
    E.INVALID_RESOURCE_URI: _spec(K.INVALID, status=400),
    E.INVALID_REVIEW: _spec(K.INVALID, status=400),
    E.INVALID_SETTING: _spec(K.INVALID, cli=True),
    E.INVALID_SKETCH: _spec(K.INVALID),
    E.INVALID_TOOL_NAME: _spec(K.INVALID, status=400),
    E.INVALID_VALUE: _spec(K.INVALID),
    E.INVALID_WINDOW: _spec(K.INVALID, cli=True),
    E.KEY_LIFETIME_TOO_LONG: _spec(K.INVALID),
    E.KEY_NOT_FOUND: _spec(K.NOT_FOUND),
    E.KEY_UNAVAILABLE: _spec(K.INVALID, cli=True),
    E.KEYS_FILE_INVALID: _spec(K.INVALID),
    E.KEYS_INVALID: _spec(K.INVALID, cli=True),
    E.KEYS_MISMATCH: _spec(K.CONFLICT),
    E.KEYS_MISSING: _spec(K.CONFLICT),
    E.LAST_ADMIN: _spec(K.CONFLICT),
    E.LICENSE_CONFLICT: _spec(K.CONFLICT),
    E.LICENSE_EXPIRED: _spec(K.FORBIDDEN, title="License expired"),  # the API refuses changing one with 409
    E.LICENSE_INVALID_TRANSITION: _spec(K.CONFLICT),
    E.LICENSE_NOT_ACTIVE: _spec(K.CONFLICT),
    E.LICENSE_NOT_AWAITING_SIGNOFF: _spec(K.CONFLICT),
    E.LICENSE_NOT_FOUND: _spec(K.NOT_FOUND),
    E.LICENSE_NOT_RENEWABLE: _spec(K.CONFLICT),
    E.LICENSE_NOT_YET_VALID: _spec(K.FORBIDDEN, title="License not yet valid"),
    E.LICENSE_REQUIREMENTS_UNMET: _spec(K.CONFLICT),
    E.LICENSE_REVOKED: _spec(K.FORBIDDEN, title="License revoked"),
    E.LICENSE_SCOPE_MISMATCH: _spec(K.FORBIDDEN, title="License is for another environment or model"),
    E.LICENSE_STATUS_UNAVAILABLE: _spec(K.UNAVAILABLE, title="License status unavailable"),
    E.LICENSE_SUSPENDED: _spec(K.FORBIDDEN, title="License suspended"),
    E.LINEAGE_CYCLE: _spec(K.INVALID),
    E.LINEAGE_EXISTS: _spec(K.CONFLICT),
    E.MALFORMED: _spec(K.FAILED),
    E.MALFORMED_CARD: _spec(K.INVALID),
    E.MALFORMED_DATASET: _spec(K.INVALID),
    E.MALFORMED_YAML: _spec(K.INVALID),
    E.METHOD_NOT_ALLOWED: _spec(K.INVALID, status=405),
    E.MISSING_API_KEY: _spec(K.UNAUTHENTICATED),
    E.MISSING_CLAIM: _spec(K.FAILED),
    E.MISSING_COLUMN: _spec(K.INVALID),
    E.MISSING_EXTRA: _spec(K.INVALID, cli=True),
    E.ML_EXTRA_MISSING: _spec(K.INVALID, cli=True),
    E.MLFLOW_ARTIFACT_ERROR: _spec(K.NOT_FOUND),
    E.MLFLOW_NOT_INSTALLED: _spec(K.UNAVAILABLE),
    E.MLFLOW_REGISTRY_ERROR: _spec(K.NOT_FOUND),
    E.MODEL_FAILED: _spec(K.INVALID, cli=True),
    E.MODEL_NOT_FOUND: _spec(K.NOT_FOUND),
    E.MODEL_RETIRED: _spec(K.CONFLICT),
    E.MODEL_UNREADABLE: _spec(K.INVALID, cli=True),
    E.MODEL_UNSAFE: _spec(K.INVALID, cli=True),
    E.MODEL_VERSION_EXISTS: _spec(K.CONFLICT),
    E.MODEL_VERSION_LOCKED: _spec(K.CONFLICT),
    E.MODEL_VERSION_NOT_FOUND: _spec(K.NOT_FOUND),
    E.NO_CASES: _spec(K.INVALID, cli=True),
    E.NO_CHECKPOINT: _spec(K.UNAVAILABLE),
    E.NO_LABEL: _spec(K.INVALID, cli=True),
    E.NO_LICENSE: _spec(K.FORBIDDEN, title="No license covers this call"),
    E.NO_PREVIOUS_VERSION: _spec(K.NOT_FOUND),
    E.NO_VERIFIER_KEY: _spec(K.INVALID),
    E.NOT_A_MODEL: _spec(K.INVALID, cli=True),
    E.NOT_FOUND: _spec(K.NOT_FOUND),
    E.NOT_INITIALISED: _spec(K.NOT_FOUND),
    E.NOT_YET_VALID: _spec(K.FAILED),
    E.NOTHING_TO_EVALUATE: _spec(K.INVALID, cli=True),
    E.NOTHING_TO_VERIFY: _spec(K.INVALID, cli=True),
    E.NUL_CHARACTER: _spec(K.INVALID),
    E.OIDC_CODE_REFUSED: _spec(K.UNAUTHENTICATED),
    E.OIDC_DISCOVERY_FAILED: _spec(K.UNAVAILABLE),
    E.OIDC_ID_TOKEN_INVALID: _spec(K.UNAUTHENTICATED),
    E.OIDC_LINKED_ELSEWHERE: _spec(K.UNAUTHENTICATED),
    E.OIDC_NO_CODE: _spec(K.INVALID, status=400),
    E.OIDC_NO_FLOW: _spec(K.INVALID, status=400),
    E.OIDC_NO_ID_TOKEN: _spec(K.UNAUTHENTICATED),
    E.OIDC_NO_ROLE: _spec(K.FORBIDDEN),
    E.OIDC_PROVIDER_REFUSED: _spec(K.UNAUTHENTICATED),
    E.OIDC_RETRY: _spec(K.CONFLICT),
    E.OIDC_STATE_MISMATCH: _spec(K.INVALID, status=400),
    E.OIDC_TOKEN_FAILED: _spec(K.UNAVAILABLE, status=502),
    E.OIDC_USERINFO_FAILED: _spec(K.UNAVAILABLE, status=502),
    E.OIDC_USERINFO_MISMATCH: _spec(K.UNAUTHENTICATED),
    E.OIDC_ISSUER_MISMATCH: _spec(K.INVALID, status=400),  # a callback whose RFC 9207 `iss` names another provider
    E.OIDC_WRONG_ISSUER: _spec(K.UNAVAILABLE),  # discovery names another issuer: a configuration error
    E.OPENAI_ROUTE_REQUIRED: _spec(K.INVALID, status=400, title="Use the OpenAI-compatible route"),
    E.PACK_MALFORMED: _spec(K.INVALID),
    E.PACK_UNSAFE: _spec(K.FAILED),
    E.PASSPHRASE_REQUIRED: _spec(K.INVALID, cli=True),
    E.PATH_NOT_ALLOWED: _spec(K.INVALID, status=400, title="Path not allowed"),
    E.PAYLOAD_TOO_LARGE: _spec(K.TOO_LARGE, title="Payload too large"),
    E.PDF_RENDER_FAILED: _spec(K.UNAVAILABLE),
    E.PDF_RENDERER_UNAVAILABLE: _spec(K.UNAVAILABLE),
    E.PERMISSION_DENIED: _spec(K.FORBIDDEN),
    E.POLICY_CONFLICT: _spec(K.CONFLICT),
    E.POLICY_INVALID: _spec(K.INVALID),
    E.POLICY_NOT_FOUND: _spec(K.NOT_FOUND),
    E.PORT_IN_USE: _spec(K.INVALID, cli=True),
    E.PRINCIPAL_DISABLED: _spec(K.UNAUTHENTICATED),
    E.PRINCIPAL_EXISTS: _spec(K.CONFLICT),
    E.PRINCIPAL_NOT_FOUND: _spec(K.NOT_FOUND),
    E.PRODUCTION_CHANGE_REQUIRES_SENIOR: _spec(K.FORBIDDEN),
    E.PROFILE_MISMATCH: _spec(K.INVALID),
    E.PROFILE_MODEL_MISMATCH: _spec(K.INVALID),
    E.PROFILE_NOT_FOUND: _spec(K.NOT_FOUND),
    E.PROFILE_TOO_LARGE: _spec(K.INVALID),
    E.PURPOSE_NOT_IN_SCOPE: _spec(K.FORBIDDEN, title="Purpose not in license scope"),
    E.PURPOSE_RESTRICTED: _spec(K.INVALID),
    E.RAGGED_COLUMNS: _spec(K.INVALID),
    E.RATE_LIMITED: _spec(K.RATE_LIMITED, title="Rate limit exceeded"),
    E.REFERENCE_DATA_REQUIRED: _spec(K.INVALID, cli=True),
    E.REQUEST_TIMEOUT: _spec(K.INVALID, status=408),
    E.ROLE_EXISTS: _spec(K.CONFLICT),
    E.ROLE_NOT_FOUND: _spec(K.NOT_FOUND),
    E.SERVER_UNREACHABLE: _spec(K.UNAVAILABLE, cli=True),
    E.SESSION_NOT_YOURS: _spec(K.FORBIDDEN),
    E.SESSION_REQUIRED: _spec(K.INVALID, status=400),
    E.SIGNATURE_MISMATCH: _spec(K.INVALID),
    E.SIGNING_UNAVAILABLE: _spec(K.INVALID),
    E.SIGNOFF_ALREADY_GIVEN: _spec(K.CONFLICT),
    E.SIGNOFF_BY_REQUESTER: _spec(K.FORBIDDEN),
    E.SIGNOFF_CONFLICT: _spec(K.CONFLICT),
    E.SIGNOFF_NOT_REQUIRED: _spec(K.INVALID),
    E.SIGNOFF_SAME_PERSON: _spec(K.CONFLICT),
    E.SIZE_MISMATCH: _spec(K.INVALID),
    E.STATUS_LIST_INVALID: _spec(K.FAILED),
    E.STATUS_LIST_ROLLBACK: _spec(K.FAILED),
    E.STATUS_LIST_STALE: _spec(K.FAILED),
    E.SYSTEM_EXISTS: _spec(K.CONFLICT),
    E.SYSTEM_NOT_FOUND: _spec(K.NOT_FOUND),
    E.SYSTEM_PROHIBITED: _spec(K.FAILED),
    E.TEAM_EXISTS: _spec(K.CONFLICT),
    E.TEAM_NOT_FOUND: _spec(K.NOT_FOUND),
    E.TIER_NOT_LICENSABLE: _spec(K.FAILED),
    E.TOO_MANY_FILES: _spec(K.INVALID),
    E.TOOL_CONDITION_FAILED: _spec(K.FORBIDDEN),
    E.TOOL_NOT_IN_SCOPE: _spec(K.FORBIDDEN, title="Tool not in license scope"),
    E.UNAUTHENTICATED: _spec(K.UNAUTHENTICATED),
    E.UNAVAILABLE: _spec(K.UNAVAILABLE),
    E.UNKNOWN_ATTRIBUTE: _spec(K.INVALID),
    E.UNKNOWN_CONTROL: _spec(K.NOT_FOUND),
    E.UNKNOWN_FORMAT: _spec(K.INVALID),
    E.UNKNOWN_FRAMEWORK: _spec(K.NOT_FOUND),
    E.UNKNOWN_KEY: _spec(K.FAILED),
    E.UNKNOWN_METRIC: _spec(K.INVALID),
    E.UNKNOWN_RISK_TIER: _spec(K.INVALID),
    E.UNKNOWN_SESSION: _spec(K.NOT_FOUND),
    E.UNREADABLE_FILE: _spec(K.INVALID, cli=True),
    E.UNSUPPORTED_FILE: _spec(K.INVALID),
    E.UNSUPPORTED_FILE_TYPE: _spec(K.INVALID, cli=True),
    E.UNSUPPORTED_MEDIA_TYPE: _spec(K.INVALID),
    E.UNSUPPORTED_MODEL_FORMAT: _spec(K.INVALID, cli=True),
    E.UNSUPPORTED_MODEL_INPUT: _spec(K.INVALID, cli=True),
    E.UNSUPPORTED_MODEL_OUTPUT: _spec(K.INVALID, cli=True),
    E.UNSUPPORTED_SCHEMA_VERSION: _spec(K.INVALID),
    E.UPSTREAM_NOT_ALLOWED: _spec(K.UNAVAILABLE, status=502, title="Upstream address not allowed"),
    E.UPSTREAM_ANSWER_TOO_LARGE: _spec(K.UNAVAILABLE, status=502, title="Upstream answer too large"),
    E.UPSTREAM_REDIRECT: _spec(K.UNAVAILABLE, status=502, title="Upstream redirected"),
    E.UPSTREAM_RESPONSE_UNREADABLE: _spec(K.INVALID, title="Upstream answer cannot be checked"),
    E.UPSTREAM_UNAVAILABLE: _spec(K.UNAVAILABLE, status=502, title="Upstream model server unavailable"),
    E.USAGE: _spec(K.INVALID, cli=True),
    E.VALIDATION_FAILED: _spec(K.INVALID),
    E.VALIDITY_INVALID: _spec(K.INVALID),
    E.VALIDITY_TOO_LONG: _spec(K.INVALID),
    E.VERIFICATION_FAILED: _spec(K.FAILED),
    E.WINDOW_IN_FUTURE: _spec(K.INVALID),
    E.WINDOW_MISALIGNED: _spec(K.INVALID),
    E.WINDOW_NOT_FOUND: _spec(K.NOT_FOUND),
    E.WRONG_COLUMN_TYPE: _spec(K.INVALID),
    E.WRONG_LICENSE: _spec(K.FAILED),
    E.WRONG_TYPE: _spec(K.FAILED),
}
CATALOGUE: dict[ErrorCode, ErrorSpec] = {
    code: ErrorSpec(
        kind=e.kind,
        status=None if e.cli else (e.status or STATUS[e.kind]),
        title=e.title or code.replace("_", " "),
    )
    for code, e in _ENTRIES.items()
}
del E, K


def title_of(code: str) -> str:
    """The problem+json title of `code` (its words, for a code outside the catalogue)."""
    spec = CATALOGUE.get(code)  # type: ignore[call-overload]
    return spec.title if spec is not None else code.replace("_", " ")


def status_of(code: str, default: int) -> int:
    """The HTTP status `code` is sent with (`default` for a code outside the catalogue or a CLI-only one)."""
    spec = CATALOGUE.get(code)  # type: ignore[call-overload]
    return spec.status if spec is not None and spec.status is not None else default


class CharterError(Exception):
    """Base of every deliberate error. `code` is stable; `message` names the field and the fix."""

    kind: ErrorKind = ErrorKind.INVALID
    code: str = ErrorCode.INVALID_REQUEST

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        kind: ErrorKind | None = None,
        field: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if kind is not None:
            self.kind = kind
        self.field = field
        self.details = details or {}

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "detail": self.message}
        if self.field:
            out["field"] = self.field
        if self.details:
            out["details"] = self.details
        return out


class InvalidInput(CharterError):
    kind = ErrorKind.INVALID
    code = ErrorCode.INVALID_INPUT


class NotFound(CharterError):
    kind = ErrorKind.NOT_FOUND
    code = ErrorCode.NOT_FOUND


class Conflict(CharterError):
    kind = ErrorKind.CONFLICT
    code = ErrorCode.CONFLICT


class Unauthenticated(CharterError):
    kind = ErrorKind.UNAUTHENTICATED
    code = ErrorCode.UNAUTHENTICATED


class Forbidden(CharterError):
    kind = ErrorKind.FORBIDDEN
    code = ErrorCode.FORBIDDEN


class Unavailable(CharterError):
    kind = ErrorKind.UNAVAILABLE
    code = ErrorCode.UNAVAILABLE


class TooLarge(CharterError):
    kind = ErrorKind.TOO_LARGE
    code = ErrorCode.PAYLOAD_TOO_LARGE
