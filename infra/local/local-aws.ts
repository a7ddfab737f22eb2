/** The region and dummy credentials every local stand-in is addressed with. */
export const LOCAL_REGION = "us-east-1";
/** The account every local stand-in answers for. */
export const LOCAL_ACCOUNT_ID = "000000000000";
export const LOCAL_CREDENTIALS = { accessKeyId: "local", secretAccessKey: "local" } as const;

/**
 * Environment that points the AWS SDK at local stand-ins through its own endpoint
 * variables, so production code needs no "if local" branch.
 */
export function localAwsEnvironment(endpoints: { dynamodb?: string; sqs?: string; s3?: string; eventbridge?: string }): Record<string, string> {
  const env: Record<string, string> = {
    AWS_REGION: LOCAL_REGION,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
  };
  if (endpoints.dynamodb) env.AWS_ENDPOINT_URL_DYNAMODB = endpoints.dynamodb;
  if (endpoints.sqs) env.AWS_ENDPOINT_URL_SQS = endpoints.sqs;
  if (endpoints.s3) env.AWS_ENDPOINT_URL_S3 = endpoints.s3;
  if (endpoints.eventbridge) env.AWS_ENDPOINT_URL_EVENTBRIDGE = endpoints.eventbridge;
  return env;
}
