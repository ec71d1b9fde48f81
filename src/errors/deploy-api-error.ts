/** gRPC status codes by name, as google-gax and @grpc/grpc-js number them. */
export const GRPC_CODE_NAMES = [
  'OK',
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
] as const;
export type GrpcCodeName = (typeof GRPC_CODE_NAMES)[number];

export function grpcCodeName(code: unknown): GrpcCodeName {
  return typeof code === 'number' ? (GRPC_CODE_NAMES[code] ?? 'UNKNOWN') : 'UNKNOWN';
}

/** A failed Cloud Deploy call, keeping the gRPC status and the original error as `cause`. */
export class DeployApiError extends Error {
  override readonly name = 'DeployApiError';
  readonly code: GrpcCodeName;
  readonly method: string;
  readonly details: string | undefined;

  constructor(
    method: string,
    code: GrpcCodeName,
    message: string,
    options?: { cause?: unknown; details?: string },
  ) {
    super(
      `${method}: ${code}: ${message}`,
      options?.cause === undefined ? undefined : { cause: options.cause },
    );
    this.method = method;
    this.code = code;
    this.details = options?.details;
  }

  /** Wraps anything a client library threw; errors without a gRPC code become UNKNOWN. */
  static from(method: string, error: unknown): DeployApiError {
    if (error instanceof DeployApiError) return error;
    const record = (typeof error === 'object' && error !== null ? error : {}) as Record<
      string,
      unknown
    >;
    const details = typeof record.details === 'string' ? record.details : undefined;
    const message = details ?? (error instanceof Error ? error.message : String(error));
    return new DeployApiError(
      method,
      grpcCodeName(record.code),
      message,
      details === undefined ? { cause: error } : { cause: error, details },
    );
  }
}

export function isDeployApiError(value: unknown): value is DeployApiError {
  return value instanceof DeployApiError;
}
