function report = bridge_batch(jobs, outdir, varargin)
%BRIDGE_BATCH  Run many job files with 'bridge batch'; return its report as a struct array.
%   REPORT = BRIDGE_BATCH(JOBS, OUTDIR) runs every job file of JOBS and writes each result to the
%   folder OUTDIR (created) under the job file's own name. JOBS is a file, a folder (its .mat, .h5,
%   .hdf5 and .txt files) or a glob pattern such as 'data/*.mat', or a cell array of them. Each
%   result is exactly what 'bridge IN OUT' writes (see BRIDGE_CONV2 for job files). The jobs run
%   on one long-lived worker process per core, or on a Dask cluster.
%
%   REPORT = BRIDGE_BATCH(..., NAME, VALUE, ...) passes options of bridge batch and of its jobs
%   (python3 -m bridge batch --help lists them), by name without the dashes, in any case, with
%   hyphens or in CamelCase: 'Jobs', 4   'Resume', true   'Recursive', true   'To', 'txt'
%   'Scheduler', 'tcp://host:8786'   'Shape', 'same'   'Op', 'conv2'   'OutVar', 'R'
%   'MatVersion', '7.3'   'Compress', true. true adds a flag, false leaves it out.
%   'Python', PATH chooses the interpreter, as for BRIDGE_CONV.
%
%   REPORT has one element per job (an N-by-1 struct array) with the fields input, output,
%   status ('ok', 'failed' or 'skipped'), exit (the exit status 'bridge IN OUT' gives the job),
%   message (its error line, '' when ok), seconds and worker ('local' or a Dask worker's
%   address). A failed job raises no error: check {REPORT.status} or [REPORT.exit].
%
%   Errors (identifiers):
%     bridge:usage             a bad option or value, a JOB that does not exist, two jobs that
%                              would write one output (the command line's message; nothing ran)
%     bridge:noInput           a JOB or pattern that names no file
%     bridge:scheduler         the Dask scheduler does not answer
%     bridge:output            OUTDIR cannot be created
%     bridge:pythonNotFound    the interpreter does not exist or cannot be started
%     bridge:pythonEnv         it cannot import numpy, scipy, h5py, typer, bridge (or dask)
%     bridge:badOption         an option that is not a NAME, VALUE pair of text, number or logical
%     bridge:tempFolder        no temporary folder can be created
%     bridge:noOutput          the worker succeeded but wrote no report
%     bridge:workerFailed      any other failure of the worker
%
%   Example:
%     R = bridge_batch('jobs/*.mat', 'results', 'Shape', 'same');
%     failed = R(~strcmp({R.status}, 'ok'));
%
%   See also BRIDGE_CONV2, BRIDGE_DIAGNOSE.
if nargin < 2
  error('MATLAB:minrhs', 'Not enough input arguments.');
end
caller = 'bridge_batch';
if ischar(jobs) || (isa(jobs, 'string') && isscalar(jobs))
  jobs = {char(jobs)};
end
if ~iscellstr(jobs) || isempty(jobs) || ~(ischar(outdir) || isa(outdir, 'string'))
  error('bridge:badOption', '%s', [caller ': JOBS must be text or a cell array of text, ' ...
    'and OUTDIR text.']);
end
args = [{'batch'}, jobs(:)', {'--out-dir', char(outdir)}];
[options, python, names] = batch_options(caller, varargin);
args = [args, options];

[python, source, problem] = bridge_python(caller, python);
if ~isempty(problem)
  error('bridge:pythonNotFound', '%s', problem);
end
% Found missing by a question that shows no shell noise, before the batch's own command would
% print the shell's "not found" line (the batch still runs PYTHON as given).
[~, status] = bridge_resolve_python(python);
if bridge_cannot_run(status)
  bridge_fail(caller, python, source, status, '', '');
end
folder = bridge_make_folder(caller, tempdir);
cleanup = onCleanup(@() bridge_remove_folder(folder)); %#ok<NASGU> removes the folder however we leave
reportfile = fullfile(folder, 'report.json');
errfile = fullfile(folder, 'error.txt');
args = [args, {'--report', reportfile, '--error-file', errfile}];
command = bridge_command(python, args);
if ~ispc
  % A batch has its own workers: a running 'bridge serve' (Linux only) must not take it.
  command = ['env BRIDGE_NO_SERVER=1 ' command];
end
if exist('OCTAVE_VERSION', 'builtin') ~= 0
  [status, output] = system(command);  % stderr (progress) reaches the user
else
  [status, output] = system(command, '-echo');
end
if any(status == [129 130 143])  % stopped (Ctrl-C, SIGTERM, SIGHUP): keep what was done
  kept = '';
  if exist(reportfile, 'file') == 2
    kept = fullfile(char(outdir), 'bridge_batch_report.json');
    if ~movefile(reportfile, kept)
      kept = '';
    end
  end
  message = sprintf('%s: the batch was stopped (exit status %d); the outputs written are complete', ...
    caller, status);
  if ~isempty(kept)
    message = sprintf('%s, and the report of the jobs that finished is %s', message, kept);
  end
  error('bridge:interrupted', '%s.', message);
end
if status ~= 0 && status ~= 3  % 3: some jobs failed, which the report says
  line = bridge_worker_message(errfile, output);
  for k = 1:2:numel(names)  % the options as the caller named them, not as command-line flags
    quoted = ['''' names{k} ''''];
    line = strrep(strrep(line, ['''' names{k + 1} ''''], quoted), names{k + 1}, quoted);
  end
  bridge_fail(caller, python, source, status, line, '');
end
if exist(reportfile, 'file') ~= 2
  error('bridge:noOutput', '%s', sprintf( ...
    '%s: Python %s exited with status %d but wrote no report %s. Is it the bridge worker?', ...
    caller, python, status, reportfile));
end
report = jsondecode(fileread(reportfile));
if isempty(report)
  report = struct('input', {}, 'output', {}, 'status', {}, 'exit', {}, 'message', {}, ...
    'seconds', {}, 'worker', {});
  report = reshape(report, 0, 1);
end
end

function [options, python, names] = batch_options(caller, args)
% NAME, VALUE pairs -> command-line words; 'Python' is the interpreter. NAMES: pairs of the
% caller's option name and the flag it became, for error messages.
options = {};
python = '';
names = {};
if mod(numel(args), 2) ~= 0
  error('bridge:badOption', '%s', [caller ': options come as NAME, VALUE pairs.']);
end
for k = 1:2:numel(args)
  name = args{k};
  value = args{k + 1};
  if ~(ischar(name) || (isa(name, 'string') && isscalar(name))) || isempty(char(name))
    error('bridge:badOption', '%s', [caller ': an option name must be text.']);
  end
  name = char(name);
  if strcmpi(name, 'Python')
    if ~(ischar(value) || isa(value, 'string')) || isempty(char(value))
      error('bridge:badOption', '%s', ...
        'The ''Python'' option needs the interpreter as text, e.g. ''/usr/bin/python3''.');
    end
    python = char(value);
    continue
  end
  option = ['--' lower(regexprep(name, '([a-z0-9])([A-Z])', '$1-$2'))];
  names = [names, {name, option}]; %#ok<AGROW>
  if any(strcmp(option, {'--report', '--error-file', '--out-dir'}))
    error('bridge:badOption', '%s', sprintf( ...
      '%s: option ''%s'' is set by bridge_batch itself (OUTDIR, and REPORT is returned).', ...
      caller, name));
  end
  if islogical(value) && isscalar(value)
    if value
      options{end + 1} = option; %#ok<AGROW>
    end
  elseif isnumeric(value) && isscalar(value) && isreal(value)
    options = [options, {option, num2str(value, 17)}]; %#ok<AGROW>
  elseif ischar(value) || (isa(value, 'string') && isscalar(value))
    options = [options, {option, char(value)}]; %#ok<AGROW>
  else
    error('bridge:badOption', '%s', sprintf( ...
      '%s: the value of ''%s'' must be text, a number or true/false.', caller, name));
  end
end
end
