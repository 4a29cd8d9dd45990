function B = bridge_imgaussfilt(varargin)
%BRIDGE_IMGAUSSFILT  MATLAB's imgaussfilt (Image Processing Toolbox), by the Python worker.
%   B = BRIDGE_IMGAUSSFILT(A) filters A with a 2-D Gaussian of standard deviation 0.5;
%   B = BRIDGE_IMGAUSSFILT(A, SIGMA) with SIGMA (a scalar, or [rows columns]).
%   B = BRIDGE_IMGAUSSFILT(..., NAME, VALUE) takes, case-insensitive and shortened while
%   unambiguous: 'FilterSize' (odd, default 2*ceil(2*SIGMA)+1), 'Padding' ('replicate' default,
%   'circular', 'symmetric' or a number), 'FilterDomain' ('auto', 'spatial', 'frequency';
%   accepted, bridge filters spatially). A of more than two dimensions is filtered plane by
%   plane. The result has A's size and class.
%   B = BRIDGE_IMGAUSSFILT(..., 'Python', PYTHON) runs the interpreter PYTHON.
%
%   Octave has no imgaussfilt: this gives MATLAB's (sigma 2: a 9-tap kernel).
%
%   Errors: MATLAB's identifiers (MATLAB:imgaussfilt:..., images:imgaussfilt:...) as the worker
%   reports them; MATLAB:minrhs for a missing A.
%
%   Example:
%     B = bridge_imgaussfilt(uint8(magic(8) * 4), 2, 'Padding', 'circular')
%
%   See also IMGAUSSFILT, BRIDGE_IMGAUSSFILT3, BRIDGE_IMFILTER.
B = bridge_gauss('bridge_imgaussfilt', 'imgaussfilt', varargin);
end
