/** `npm run pglite-template`: writes assets/pglite-<version>-datadir.tar.gz for the installed PGlite. */
import { writePgliteTemplate } from '../src/destinations/postgres/pglite-template.js';

writePgliteTemplate().then((file) => process.stdout.write(`wrote ${file}\n`));
