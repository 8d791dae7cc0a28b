import { Admin, type BaseOptions } from '@platformatic/kafka';
import { describeFailure } from '../errors.js';
import type { KafkaConnection } from '../types.js';

/** Options every @platformatic/kafka client of ours starts from. */
export function baseOptions(connection: KafkaConnection): BaseOptions {
  return {
    clientId: connection.clientId,
    bootstrapBrokers: connection.brokers,
    connectTimeout: 3_000,
    retries: 3,
    retryDelay: 300,
    autocreateTopics: false,
  };
}

/** Closes a producer or consumer even with streams open (the typings of close(true) say void). */
export function closeForcibly(client: {
  close(force: boolean, callback: (error: Error | null) => void): void;
}): Promise<void> {
  return new Promise((resolve, reject) => client.close(true, (error) => (error ? reject(error) : resolve())));
}

/**
 * Fails fast, with our one-line error, when no broker answers: a producer's own retries
 * (sized to ride out a leader election) would make an unreachable Kafka take 10 s to report.
 */
export async function checkReachable(connection: KafkaConnection): Promise<void> {
  const probe = new Admin(baseOptions(connection));
  try {
    await probe.metadata({ topics: [] });
  } catch (error) {
    throw describeFailure(connection.brokers, error);
  } finally {
    await probe.close().catch(() => undefined);
  }
}
