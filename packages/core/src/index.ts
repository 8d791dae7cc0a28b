export type { ChangeEvent, ChangeOp, ChangeSource, RowImage } from './change-event.js';
export { canonicalJson, qualifiedTable } from './change-event.js';
export type { Env } from './config/env-overrides.js';
export { ENV_PREFIX, envVariableFor } from './config/env-overrides.js';
export type { LoadConfigOptions, ParseConfigOptions } from './config/load.js';
export {
  CONFIG_PATH_VARIABLE,
  ConfigError,
  configPathFromArgv,
  loadConfig,
  loadConfigOrExit,
  parseConfig,
} from './config/load.js';
export type {
  Config,
  ConfigInput,
  KafkaConfig,
  KeyRuleConfig,
  PostgresSourceConfig,
  RuleConfig,
  SearchConfig,
  SearchIndexConfig,
  ServicesConfig,
  StoreName,
  StoresConfig,
} from './config/schema.js';
export { configSchema, STORE_NAMES } from './config/schema.js';
export {
  censorSecret,
  isSecretName,
  maskSecretsInText,
  PINO_REDACT,
  redactConfig,
  SECRET_LOG_PATHS,
} from './config/secrets.js';
export type {
  Envelope,
  EnvelopeErrorCode,
  EnvelopeMessage,
  EnvelopeName,
  EnvelopeRecord,
  EventEncoder,
  MessageBytes,
} from './envelopes/index.js';
export {
  cdcV1,
  createEventEncoder,
  debezium,
  EnvelopeError,
  encodeTopicPart,
  envelopeNamed,
  MAX_TOPIC_LENGTH,
  mustReachEveryPartition,
  recordsFor,
  topicFor,
} from './envelopes/index.js';
export type {
  KeyRenderFailure,
  KeyRenderOptions,
  KeyRenderResult,
  KeyStore,
  KeyTemplate,
  KeyTemplateOptions,
} from './key-template.js';
export {
  compileKeyTemplate,
  encodeKeyValue,
  KEY_LIMITS,
  KeyTemplateError,
  MAX_KEY_BYTES,
  MIN_KEY_BYTES,
} from './key-template.js';
export type { Lsn } from './lsn.js';
export { compareLsn, formatLsn, parseLsn } from './lsn.js';
export type { ValueMode } from './pg-values.js';
export { convertValue } from './pg-values.js';
