// An error as it crosses a process or thread boundary as plain data (a Pool worker's reply, a
// gateway frame): enough to rebuild a useful error with the same name, message, stack and code on
// the other side. One copy for the pool and the distributed layer. Node builtins only: the remote
// side of a gateway loads this file too.

export interface WireError {
  name: string;
  message: string;
  stack?: string;
  code?: string;
}

/** The plain-data form of whatever was thrown; a non-Error value becomes an Error naming it. */
export function toWireError(error: unknown): WireError {
  if (error instanceof Error) {
    const code: unknown = (error as NodeJS.ErrnoException).code;
    return {
      name: error.name,
      message: error.message,
      stack: error.stack,
      ...(typeof code === 'string' ? { code } : {}),
    };
  }
  return { name: 'Error', message: `non-Error thrown: ${String(error)}` };
}

const errorClasses: Record<string, new (message: string) => Error> = {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
};

/** The error as the receiver sees it: same class where it is a built-in, same name, message, stack and code. */
export function fromWireError(wire: WireError): Error {
  const error = new (errorClasses[wire.name] ?? Error)(wire.message);
  if (error.name !== wire.name)
    Object.defineProperty(error, 'name', { value: wire.name, configurable: true, writable: true });
  if (wire.stack !== undefined) error.stack = wire.stack;
  if (wire.code !== undefined) (error as NodeJS.ErrnoException).code = wire.code;
  return error;
}
