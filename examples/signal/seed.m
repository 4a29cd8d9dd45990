% seed.m: the whole text-file round trip from MATLAB or Octave, with nothing but fprintf, system
% and load: write in.txt, run "python3 -m bridge in.txt out.txt", read out.txt, compare with conv.
%
%   octave-cli examples/signal/seed.m      or, in MATLAB,   run('examples/signal/seed.m')
%
% The interpreter is $BRIDGE_PYTHON when set, else python3; it must be able to import bridge
% (pip install -e . in the checkout). It exits with status 1 if the result differs from conv.
here = fileparts(mfilename('fullpath'));
infile = fullfile(here, 'in.txt');
outfile = fullfile(here, 'out.txt');

% A 1-D signal and a 5-tap binomial smoothing kernel; 'same' keeps the signal's length.
u = [3 1 4 1 5 9 2 6 5 3 5 8 9 7 9 3 2 3 8 4 6 2 6 4];
v = [1 4 6 4 1] / 16;

% The bridge text format: request lines, then per array '% NAME CLASS ROWS COLS' and its rows,
% numbers with %.17g (lossless for doubles). See bridge/_formats/text.py.
f = fopen(infile, 'w');
fprintf(f, '%% op conv\n%% shape same\n');
fprintf(f, '%% u double %d %d\n', size(u));
fprintf(f, '%s\n', strtrim(sprintf('%.17g ', u)));
fprintf(f, '%% v double %d %d\n', size(v));
fprintf(f, '%s\n', strtrim(sprintf('%.17g ', v)));
fclose(f);

python = getenv('BRIDGE_PYTHON');
if isempty(python)
  python = 'python3';
end
status = system(sprintf('''%s'' -m bridge ''%s'' ''%s''', python, infile, outfile));
if status ~= 0
  fprintf('seed: python -m bridge failed with exit status %d\n', status);
  exit(1);
end

% '%' lines are comments to load -ascii: a file holding one real matrix loads as that matrix.
w = load(outfile, '-ascii');
expected = conv(u, v, 'same');
if ~isequal(size(w), size(expected)) || max(abs(w - expected)) > 4 * eps(max(abs(expected)))
  fprintf('seed: out.txt differs from conv(u, v, ''same'')\n');
  exit(1);
end
disp(w);
fprintf('seed: out.txt equals conv(u, v, ''same'')\n');
