import { pipelineJsonSchema } from '../config/pipeline-json-schema.js';
import { defineCommand, EXIT } from './command.js';

export const schemaCommand = defineCommand({
  name: 'schema',
  args: '',
  description: 'print the JSON Schema of pipeline files (for editor completion and checks)',
  options: [],
  async run(_args, _opts, reporter) {
    // Always JSON: it is the command's only output.
    if (reporter.json) reporter.data(pipelineJsonSchema());
    else reporter.line(JSON.stringify(pipelineJsonSchema(), null, 2));
    return EXIT.ok;
  },
});
