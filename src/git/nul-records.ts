/**
 * An onStdout handler for git's `-z` output: hands on each NUL-terminated record as it is
 * complete, however git's writes split them; a reason returned for a record stops git at once.
 */
export function nulRecords(onRecord: (record: Buffer) => string | undefined): (chunk: Buffer) => string | undefined {
  let rest = Buffer.alloc(0);
  return (chunk) => {
    let data = rest.length ? Buffer.concat([rest, chunk]) : chunk;
    let end: number;
    while ((end = data.indexOf(0)) !== -1) {
      const reason = onRecord(data.subarray(0, end));
      if (reason) return reason;
      data = data.subarray(end + 1);
    }
    rest = Buffer.from(data);
    return undefined;
  };
}
