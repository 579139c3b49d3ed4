// The child process of the odd-files stage (see stages.ts).
import { filesChildMain } from './stages';

filesChildMain();
