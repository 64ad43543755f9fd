// The tool's version (package.json), recorded in run records and audit lines.
import { version } from '../../../package.json';

export const TOOL_VERSION: string = version;
