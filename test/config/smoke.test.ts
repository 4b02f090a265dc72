import t from 'tap';
import { formatPath } from '../../src/config/schema.js';
t.test('formatPath', async (t) => {
  t.equal(formatPath(['models', 'fraud-detector', 'version']), 'models.fraud-detector.version');
});
