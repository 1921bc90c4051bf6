/**
 * Publish (single and batch) and cancel-scheduled: the routes under
 * `/v1/topics/{tenant}/{namespace}/{topic...}/messages`.
 */
import { FerryError, CommonCode } from '../../common/errors.js'
import { checkNamespaceName, type NamespacePolicy } from '../policy/index.js'
import { checkPublishTopicLocal, fullTopicName } from '../topic-names.js'
import type { ProducerRef, PublishRequest, PublishResult, PublishSink } from '../dispatch/index.js'
import { httpErrorBody, httpStatusOf } from '../error-map.js'
import type { HttpContext } from './context.js'
import { HttpCode } from './errors.js'
import { messageIdOf } from './encode.js'
import { isBatchContentType, parseBatch, propsFromHeaders, type PublishInput } from './publish-input.js'
import { addressProducer, bodyTooLarge, messageTooLarge, type PublishTarget } from './publish-targets.js'
import type { MessageProps } from '../../store/index.js'
import { headerOf, type ApiReply, type ReplySink, type RequestHead, type RequestPlan } from './request.js'

export interface TopicRef { tenant: string, namespace: string, local: string }

/** Namespace (404 if unknown), policy and full topic name; bad names are 400. */
export function resolveTopic (ctx: HttpContext, ref: TopicRef): { namespace: string, topic: string, policy: Readonly<NamespacePolicy> } {
  const namespace = checkNamespaceName(ref.tenant, ref.namespace)
  const policy = ctx.deps.policies.get(namespace)
  checkPublishTopicLocal(ref.local)
  return { namespace, topic: fullTopicName(namespace, ref.local), policy }
}

/** The default body bound: maxBodyBytes (routes that ignore their body read and drop it, bounded too). */
export function bodyBound (ctx: HttpContext): Pick<RequestPlan, 'bodyBytesMax' | 'tooLarge'> {
  return {
    bodyBytesMax: ctx.limits.maxBodyBytes,
    tooLarge: () => bodyTooLarge(ctx.limits.maxBodyBytes)
  }
}

function published (r: PublishResult): { messageId: string, topic: string, duplicate: boolean } {
  return { messageId: messageIdOf(r.entryId), topic: r.topic, duplicate: r.duplicate }
}

/**
 * The 201 body of a single publish, `{"messageId","topic","duplicate"}`,
 * written as a string with the topic's JSON kept per target: byte for byte
 * what JSON.stringify(published(r)) gives, without building the object.
 */
function publishedJson (r: PublishResult, target: PublishTarget): string {
  const topic = r.topic === target.topic ? target.topicJson : JSON.stringify(r.topic)
  return `{"messageId":"${messageIdOf(r.entryId)}","topic":${topic},"duplicate":${r.duplicate ? 'true' : 'false'}}`
}

/**
 * One message from the request's body and Ferry-* headers (checked before the body is read). As the
 * dispatcher's PublishSink it takes the publish's outcome itself (runTo): no promise and no closure per request.
 */
class SinglePublish implements RequestPlan, PublishSink {
  readonly bodyBytesMax: number
  readonly tooLarge: () => Error
  private sink: ReplySink | undefined = undefined

  /** `nowMs`: when the request arrived (its props were read then). */
  constructor (private readonly ctx: HttpContext, private readonly head: RequestHead, private readonly target: PublishTarget, private readonly props: MessageProps, private readonly nowMs: number) {
    this.bodyBytesMax = target.bodyBytesMax
    this.tooLarge = target.tooLarge
  }

  async run (payload: Buffer): Promise<ApiReply> {
    return this.created(await this.ctx.deps.dispatcher.publish(this.request(payload)))
  }

  runTo (payload: Buffer, sink: ReplySink): void {
    this.sink = sink
    this.ctx.deps.dispatcher.publishTo(this.request(payload), this)
  }

  published (r: PublishResult): void {
    const sink = this.sink as ReplySink
    // The dispatcher's sink must not throw: a failure to build the reply is answered instead.
    try { sink.reply(this.created(r)) } catch (err) { sink.fail(err) }
  }

  failed (err: unknown): void { (this.sink as ReplySink).fail(err) }

  /** The dispatcher's request, its namespace given (the dispatcher and the guard need not slice it out of the topic again). */
  private request (payload: Buffer): PublishRequest {
    const { props, target } = this
    const producer = props.producerId !== undefined ? { name: props.producerId, protocol: 'http' as const } : addressProducer(target, this.head, this.nowMs)
    return { topic: target.topic, payload, props, producer, namespace: target.namespace }
  }

  private created (r: PublishResult): ApiReply {
    return { status: 201, body: publishedJson(r, this.target), contentType: JSON_CONTENT_TYPE }
  }
}

const JSON_CONTENT_TYPE = 'application/json'

/** Publish to a resolved target (publish-targets.ts): a batch document or one message. */
export function planPublish (ctx: HttpContext, head: RequestHead, target: PublishTarget): RequestPlan {
  const contentType = headerOf(head, 'content-type')
  if (isBatchContentType(contentType)) {
    const { topic, policy } = target
    return {
      ...bodyBound(ctx),
      run: async (body) => await publishBatch(ctx, topic, policy, parseBatch(contentType, body, Date.now(), ctx.limits.batchMessagesMax), head)
    }
  }
  // Headers are checked before the body is read: a bad request costs no upload.
  const nowMs = Date.now()
  return new SinglePublish(ctx, head, target, propsFromHeaders(head.headers, nowMs), nowMs)
}

/**
 * Every message of a batch is handed to the dispatcher in list order in one
 * turn, so the store group-commits them together. 201 when all are durable;
 * otherwise the status of the first failure, with a per-message outcome list
 * so the client knows exactly which ones were stored.
 */
/** ops2 hook: who publishes, for the admin API's topic producers (never stored): the dedup producer id, else the remote address. */
function httpProducer (head: RequestHead, producerId: string | undefined): ProducerRef {
  return { name: producerId ?? head.remoteAddress, protocol: 'http' }
}

async function publishBatch (ctx: HttpContext, topic: string, policy: Readonly<NamespacePolicy>, inputs: PublishInput[], head: RequestHead): Promise<ApiReply> {
  for (const m of inputs) if (m.payload.length > policy.maxMessageBytes) throw messageTooLarge(policy)
  const settled = await Promise.allSettled(inputs.map(async (m) => await ctx.deps.dispatcher.publish({ topic, payload: m.payload, props: m.props, producer: httpProducer(head, m.props.producerId) })))
  const firstFailure = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected')
  const results = settled.map((s) => s.status === 'fulfilled' ? published(s.value) : httpErrorBody(s.reason))
  if (firstFailure === undefined) return { status: 201, body: { messages: results } }
  return { status: httpStatusOf(firstFailure.reason), body: { ...httpErrorBody(firstFailure.reason), messages: results } }
}

/** Decimal entry id, as returned by publish. */
export function parseMessageId (s: unknown): number {
  const str = typeof s === 'number' ? String(s) : s
  if (typeof str !== 'string' || !/^\d{1,15}$/.test(str)) {
    throw new FerryError(CommonCode.BAD_REQUEST, `message id must be a decimal entry id, got ${JSON.stringify(s)}`)
  }
  return Number(str)
}

export function planCancelScheduled (ctx: HttpContext, ref: TopicRef, messageId: string): RequestPlan {
  const { topic } = resolveTopic(ctx, ref)
  const entryId = parseMessageId(messageId)
  return {
    ...bodyBound(ctx),
    run: async () => {
      const cancelled = await ctx.deps.dispatcher.cancelScheduled(topic, entryId)
      if (!cancelled) throw new FerryError(HttpCode.NOT_SCHEDULED, `message ${messageId} of ${topic} is not a pending scheduled message`)
      return { status: 200, body: { cancelled: true, messageId: messageIdOf(entryId), topic } }
    }
  }
}
