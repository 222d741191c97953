import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';

/** Settings for the emulator: any credentials do, the endpoint is the run's moto server. */
export const kmsEnv = (endpoint: string) => ({
  AWS_ENDPOINT_URL_KMS: endpoint,
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'test',
  AWS_SECRET_ACCESS_KEY: 'test',
});

export function kmsClient(endpoint: string): KMSClient {
  return new KMSClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
}

/** A fresh symmetric key; its ARN is what KMS_KEY_ID names. */
export async function createKmsKey(client: KMSClient): Promise<string> {
  const out = await client.send(new CreateKeyCommand({ KeySpec: 'SYMMETRIC_DEFAULT', KeyUsage: 'ENCRYPT_DECRYPT' }));
  return out.KeyMetadata!.Arn!;
}
