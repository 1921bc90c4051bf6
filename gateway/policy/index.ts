export * from './types.js'
export { validatePolicyPatch, REDELIVERY_BACKOFF_STEPS_MAX } from './validate.js'
export { PolicyRegistry, checkNamespaceName, splitTopicName, namespaceOfTopic, NAMESPACE_PART_CHARS_MAX, type PolicyListener } from './registry.js'
